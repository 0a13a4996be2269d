#!/usr/bin/env bash
# Make pgvector >= 0.8 (and pg_trgm) available to the system PostgreSQL on Debian 12.
#
# Debian 12 ships no pgvector package, so this builds the one from Debian trixie's
# *source* package against the installed server:
#   1. install postgresql-server-dev-<major> PINNED to the installed server version
#      (and libpq-dev pinned to its installed version), so apt never upgrades the server;
#   2. fetch the pgvector source with a private apt config (trixie deb-src only,
#      private lists dir): the system's apt sources and lists are left untouched;
#   3. make && make install against /usr/lib/postgresql/<major>/bin/pg_config.
#
# Idempotent: does nothing when a pgvector >= 0.8 is already installed.
# Not root, or no apt-get: prints a line and exits 0 (tests then fall back to the
# pip `pgserver` wheel: PostgreSQL 16 + pgvector 0.6.2).
#
# Environment:
#   PG_MAJOR               server major version to target (default: newest under /usr/lib/postgresql)
#   PGVECTOR_MIN           minimum acceptable version (default 0.8.0)
#   PGVECTOR_SUITE         Debian suite to take the source from (default trixie)
#   HEARTH_DEBIAN_MIRROR   mirror URI (default http://deb.debian.org/debian)
#   HEARTH_APT_UPDATED=1   the caller already ran `apt-get update`
set -euo pipefail

log() { printf '[install-pgvector] %s\n' "$*"; }
die() { printf '[install-pgvector] ERROR: %s\n' "$*" >&2; exit 1; }

PGVECTOR_MIN="${PGVECTOR_MIN:-0.8.0}"
SUITE="${PGVECTOR_SUITE:-trixie}"
MIRROR="${HEARTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
T0=$SECONDS

# version_ge A B: true when version A >= B (dotted numeric)
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

if [ "${EUID:-$(id -u)}" != 0 ]; then
    log "not root: skipping the system pgvector install (tests fall back to the pip pgserver wheel)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    log "apt-get/dpkg not available: skipping the system pgvector install (tests fall back to pgserver)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

# --- which server --------------------------------------------------------------------------
if [ -z "${PG_MAJOR:-}" ]; then
    PG_MAJOR="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
        | awk -F/ '{print $5}' | sort -n | tail -n1)"
fi
if [ -z "${PG_MAJOR:-}" ]; then
    log "no PostgreSQL server under /usr/lib/postgresql: skipping (tests fall back to pgserver)"
    exit 0
fi
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
SERVER_PKG="postgresql-${PG_MAJOR}"
SERVER_VER="$(dpkg-query -W -f='${Version}' "$SERVER_PKG" 2>/dev/null || true)"
SHAREDIR="/usr/share/postgresql/${PG_MAJOR}/extension"
log "PostgreSQL ${PG_MAJOR} server package ${SERVER_PKG} ${SERVER_VER:-<not installed via dpkg>}"

# installed pgvector version, from its control file (empty when absent)
installed_pgvector() {
    local ctl="${SHAREDIR}/vector.control"
    [ -f "$ctl" ] || return 0
    local libdir
    libdir="$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/${PG_MAJOR}/lib")"
    [ -f "$libdir/vector.so" ] || return 0
    sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$ctl" | head -n1
}

check_trgm() {
    if [ -f "${SHAREDIR}/pg_trgm.control" ]; then
        log "pg_trgm: available (${SHAREDIR}/pg_trgm.control)"
        return 0
    fi
    # On Debian 12 pg_trgm ships inside postgresql-15 itself; postgresql-contrib is a metapackage.
    log "pg_trgm: missing; trying to install postgresql-contrib (pinned to the server version)"
    if [ -n "$SERVER_VER" ] && apt-get install "${APT_OPTS[@]}" --no-install-recommends \
            "postgresql-contrib-${PG_MAJOR}=${SERVER_VER}" >/dev/null 2>&1; then :; fi
    if [ -f "${SHAREDIR}/pg_trgm.control" ]; then
        log "pg_trgm: available now"
    else
        log "WARNING: pg_trgm is not available for PostgreSQL ${PG_MAJOR}"
    fi
}

have="$(installed_pgvector)"
if [ -n "$have" ] && version_ge "$have" "$PGVECTOR_MIN"; then
    log "pgvector ${have} already installed for PostgreSQL ${PG_MAJOR}: nothing to do"
    check_trgm
    log "pgvector version: ${have}"
    exit 0
fi
[ -n "$have" ] && log "pgvector ${have} installed but < ${PGVECTOR_MIN}: rebuilding"

# --- 1. build dependencies, pinned ---------------------------------------------------------
have_version() {  # have_version PKG VER: is PKG=VER downloadable from the configured sources?
    apt-cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$2"
}
installed_version() {  # version of an installed package, empty when not installed
    { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } \
        | awk '/install ok installed/ {print $4}'
}
DEV_PKG="postgresql-server-dev-${PG_MAJOR}"
if [ -z "${HEARTH_APT_UPDATED:-}" ] && ! apt-cache madison "$DEV_PKG" 2>/dev/null | grep -q .; then
    log "apt lists do not know ${DEV_PKG}: running apt-get update"
    apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null || log "WARNING: apt-get update failed"
fi

want=()
dev_ver="$(installed_version "$DEV_PKG")"
if [ -n "$SERVER_VER" ] && [ "$dev_ver" = "$SERVER_VER" ]; then
    log "${DEV_PKG} ${dev_ver} already installed"
elif [ -n "$SERVER_VER" ] && have_version "$DEV_PKG" "$SERVER_VER"; then
    want+=("${DEV_PKG}=${SERVER_VER}")
elif [ -n "$SERVER_VER" ]; then
    # Headers of another minor release of the same major are ABI-compatible; install the
    # candidate but keep the server itself where it is (checked below).
    log "WARNING: ${DEV_PKG}=${SERVER_VER} is not downloadable; using the candidate version"
    want+=("${DEV_PKG}")
else
    want+=("${DEV_PKG}")
fi
# Pin libpq-dev (and libpq5) to what is installed, so the dev package does not drag them up.
for p in libpq-dev libpq5; do
    v="$(installed_version "$p")"
    if [ -n "$v" ] && [ ${#want[@]} -gt 0 ] && have_version "$p" "$v"; then want+=("${p}=${v}"); fi
done
command -v make >/dev/null 2>&1 || want+=(make)
command -v gcc >/dev/null 2>&1 || want+=(gcc)
command -v dpkg-source >/dev/null 2>&1 || want+=(dpkg-dev)

if [ ${#want[@]} -gt 0 ]; then
    log "apt-get install ${want[*]}"
    # Refuse any plan that would upgrade or remove the running server.
    plan="$(apt-get install -s "${APT_OPTS[@]}" --no-install-recommends "${want[@]}" 2>&1)" \
        || { printf '%s\n' "$plan" | tail -n 20 >&2; die "apt-get cannot install ${want[*]}"; }
    if printf '%s\n' "$plan" | grep -Eq "^(Inst|Remv) (${SERVER_PKG}|postgresql-common) .*\\["; then
        printf '%s\n' "$plan" | grep -E '^(Inst|Remv)' >&2
        die "installing ${want[*]} would upgrade/remove ${SERVER_PKG}; refusing"
    fi
    t=$SECONDS
    apt-get install "${APT_OPTS[@]}" --no-install-recommends "${want[@]}" >/dev/null
    log "build dependencies installed in $((SECONDS - t)) s"
fi
[ -x "$PG_BIN/pg_config" ] || die "$PG_BIN/pg_config missing after installing ${DEV_PKG}"

# --- 2. pgvector source from Debian's ${SUITE}, with a private apt config -------------------
WORK="$(mktemp -d /tmp/hearth-pgvector.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/sources.list.d" "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/src"
cat >"$WORK/sources.list.d/${SUITE}-src.sources" <<EOF
Types: deb-src
URIs: ${MIRROR}
Suites: ${SUITE}
Components: main
Signed-By: ${KEYRING}
EOF
PRIV=(-o "Dir::Etc::SourceList=/dev/null"
      -o "Dir::Etc::SourceParts=$WORK/sources.list.d"
      -o "Dir::State::Lists=$WORK/lists"
      -o "Dir::Cache::Archives=$WORK/archives"
      -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
      -o "APT::Sandbox::User=root")
t=$SECONDS
apt-get "${PRIV[@]}" -q update >/dev/null || die "apt-get update of the private ${SUITE} deb-src list failed"
( cd "$WORK/src" && apt-get "${PRIV[@]}" -q source pgvector >/dev/null 2>"$WORK/source.err" ) \
    || { cat "$WORK/source.err" >&2; die "apt-get source pgvector (${SUITE}) failed"; }
SRC="$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"
[ -n "$SRC" ] || die "no pgvector source tree after apt-get source"
src_ver="$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$SRC/vector.control" | head -n1)"
log "fetched $(basename "$SRC") (extension version ${src_ver}) from ${SUITE} in $((SECONDS - t)) s"
version_ge "$src_ver" "$PGVECTOR_MIN" || die "${SUITE} has pgvector ${src_ver} < ${PGVECTOR_MIN}"

# --- 3. build and install ------------------------------------------------------------------
t=$SECONDS
jobs="$(nproc 2>/dev/null || echo 2)"
# OPTFLAGS="" : no -march=native, so the .so runs on any x86-64 CPU of this kind.
make -C "$SRC" -j"$jobs" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >"$WORK/build.log" 2>&1 \
    || { tail -n 40 "$WORK/build.log" >&2; die "pgvector build failed"; }
make -C "$SRC" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" install >>"$WORK/build.log" 2>&1 \
    || { tail -n 40 "$WORK/build.log" >&2; die "pgvector make install failed"; }
log "built and installed in $((SECONDS - t)) s"

have="$(installed_pgvector)"
[ -n "$have" ] && version_ge "$have" "$PGVECTOR_MIN" || die "pgvector not found after make install"
check_trgm
log "pgvector version: ${have} for PostgreSQL ${PG_MAJOR} (${SERVER_PKG} ${SERVER_VER}); total $((SECONDS - T0)) s"
