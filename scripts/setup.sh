#!/usr/bin/env bash
# Installs what building and testing Delta needs on a fresh Debian machine:
# protoc (libp2p's build scripts), lld (fast linking of the large node
# binary), PostgreSQL 15 and MariaDB (the SQL-source tests start their own
# servers as `nobody`), Chromium (the board's browser tests), the wasm
# target and rust-src for the runtime, and the Python packages the
# end-to-end tests and the demo use, and the board's JupyterHub (its own
# virtual environment and its Node proxy). Idempotent and quiet when everything
# is already there.
set -euo pipefail

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
command -v ld.lld >/dev/null 2>&1 || need_apt+=(lld)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server)
# Debian's Chromium for the board's browser tests (Playwright drives it).
[ -x /usr/bin/chromium ] || need_apt+=(chromium fonts-liberation)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup: installing ${need_apt[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32v1-none; then
	echo "setup: adding rust target wasm32v1-none"
	rustup target add wasm32v1-none
fi
if ! rustup component list --installed | grep -q '^rust-src'; then
	echo "setup: adding rust-src"
	rustup component add rust-src
fi

here="$(cd "$(dirname "$0")/.." && pwd)"
# moto's server is the tests' S3 endpoint; before 5.2.6 its signature
# check refused Arrow's signed listings, hence the version test.
if ! python3 -c 'import substrateinterface, pytest, ruff, dp_accounting, torch, sklearn, safetensors, PIL, connectorx, playwright, hdfs_native, flask_cors, moto; assert moto.__version__ == "5.2.6"' >/dev/null 2>&1; then
	echo "setup: installing Python test packages"
	python3 -m pip install --quiet --disable-pip-version-check -r "$here/tests/requirements.txt"
fi

# @polkadot/api for the end-to-end test that proves generic JS clients work.
if [ ! -d "$here/tests/e2e/js/node_modules/@polkadot/api" ]; then
	echo "setup: installing @polkadot/api for the end-to-end tests"
	npm ci --prefix "$here/tests/e2e/js" --silent --no-audit --no-fund >/dev/null
fi

# The board's JupyterHub and JupyterLab, in a virtual environment of their
# own (it sees the system's packages, so kernels import the installed
# SDK), reinstalled when board/jupyterhub/requirements.txt changes.
jupyter_env="${DELTA_JUPYTER_ENV:-$HOME/.cache/delta/jupyter}"
if ! cmp -s "$here/board/jupyterhub/requirements.txt" "$jupyter_env/delta-requirements.txt"; then
	echo "setup: installing JupyterHub and JupyterLab in $jupyter_env"
	# No pip or setuptools of its own (the system's pip installs into it),
	# so kernels see the system's setuptools, which torch needs to be new.
	if [ -f "$jupyter_env/pyvenv.cfg" ]; then rm -rf "$jupyter_env"; fi
	python3 -m venv --system-site-packages --without-pip "$jupyter_env"
	python3 -m pip --python "$jupyter_env/bin/python" install --quiet --disable-pip-version-check -r "$here/board/jupyterhub/requirements.txt"
	cp "$here/board/jupyterhub/requirements.txt" "$jupyter_env/delta-requirements.txt"
fi
# configurable-http-proxy, JupyterHub's proxy (Node).
if [ ! -x "$here/board/jupyterhub/node_modules/.bin/configurable-http-proxy" ]; then
	echo "setup: installing configurable-http-proxy for the board's JupyterHub"
	npm ci --prefix "$here/board/jupyterhub" --silent --no-audit --no-fund >/dev/null
fi
