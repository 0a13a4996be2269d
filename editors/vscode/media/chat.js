// Hearth chat view: renders what the extension sends (src/chat/view.ts) and
// posts the user's actions back. No network, no eval, no inline handlers.
(function () {
    const vscode = acquireVsCodeApi();
    const log = document.getElementById('log');
    const input = document.getElementById('input');
    const send = document.getElementById('send');
    const stop = document.getElementById('stop');
    let streaming = null; // the text element of the answer being written

    function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text) node.textContent = text;
        return node;
    }

    function renderTurn(turn, index) {
        const div = el('div', 'turn ' + turn.role + (turn.done ? '' : ' pending'));
        if (turn.context) div.append(el('div', 'context', turn.context));
        const body = el('div', 'text', turn.text);
        div.append(body);
        if (!turn.done) streaming = body;
        if (turn.error) div.append(el('div', 'error', turn.error));
        if (turn.sources.length > 0) {
            const list = el('ul', 'sources');
            turn.sources.forEach(function (label, sourceIndex) {
                const link = el('a', '', label);
                link.href = '#';
                link.title = 'Open ' + label;
                link.addEventListener('click', function (event) {
                    event.preventDefault();
                    vscode.postMessage({ type: 'open', turn: index, source: sourceIndex });
                });
                const item = el('li');
                item.append(link);
                list.append(item);
            });
            div.append(list);
        }
        return div;
    }

    function scrollToEnd() {
        log.scrollTop = log.scrollHeight;
    }

    window.addEventListener('message', function (event) {
        const message = event.data;
        if (message.type === 'render') {
            streaming = null;
            log.replaceChildren.apply(log, message.turns.map(renderTurn));
            stop.hidden = !message.busy;
            send.disabled = message.busy;
            scrollToEnd();
        } else if (message.type === 'delta' && streaming) {
            streaming.textContent += message.text;
            scrollToEnd();
        }
    });

    function submit() {
        const text = input.value.trim();
        if (!text || send.disabled) return;
        vscode.postMessage({ type: 'send', text: text });
        input.value = '';
    }

    input.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            submit();
        }
    });
    send.addEventListener('click', submit);
    stop.addEventListener('click', function () {
        vscode.postMessage({ type: 'stop' });
    });
    vscode.postMessage({ type: 'ready' });
})();
