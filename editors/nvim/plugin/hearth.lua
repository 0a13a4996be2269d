if vim.g.loaded_hearth then
  return
end
vim.g.loaded_hearth = true

vim.api.nvim_create_user_command('Hearth', function(args)
  require('hearth.commands').run(args)
end, {
  nargs = '*',
  range = true,
  desc = 'Hearth: explain, refactor, chat, index, status, trace',
  complete = function(arglead, cmdline)
    return require('hearth.commands').complete(arglead, cmdline)
  end,
})
