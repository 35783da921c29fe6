#!/usr/bin/env bash
# Local proof that hotcache ships as wheels and as an sdist (Linux, one interpreter: $PYTHON):
#   1. `python -m build` makes the sdist, then the wheel FROM that sdist (so the sdist is complete);
#   2. `auditwheel repair` turns the wheel into a manylinux one and `auditwheel show` prints its tag;
#   3. a fresh venv gets the repaired wheel + test deps, and the sdist's own tests run against it
#      from outside the source tree, with a PATH on which no C compiler can be found
#      (HOTCACHE_WHEEL_TEST=1 skips only the C unit tests, the C fuzz run and cachetools' downloaded suite);
#   4. another fresh venv installs from the sdist alone (compiler allowed) and smoke-tests it;
#   5. cibuildwheel prints the Linux build identifiers that pyproject.toml's [tool.cibuildwheel] selects.
# With --wheel-only (what .ci/run does on every interpreter but the one with the full proof):
# steps 1 (the wheel only, from the tree) and 2, then the repaired wheel alone in a fresh venv with no compiler on PATH: it
# imports from the venv and passes the smoke test (native decorator call path included).
# Usage: bash .ci/wheel_proof.sh [--wheel-only]   (PYTHON=python3.12 bash .ci/wheel_proof.sh for another one)
# Needs network access to PyPI; installs patchelf with apt-get when auditwheel needs it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
MODE=full
case "${1:-}" in
    "") ;;
    --wheel-only) MODE=wheel-only ;;
    *) echo "usage: bash .ci/wheel_proof.sh [--wheel-only]" >&2; exit 2 ;;
esac
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hotcache-wheel-proof.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
T0=$SECONDS
# pip's stderr minus this machine's notes about absent local index mirrors
quiet_pip() { "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2); }
step() { printf '\n== [%3ds] %s\n' "$((SECONDS - T0))" "$*"; }

# smoke COMMAND...: run by COMMAND (a python, with an env prefix if need be), what a user does
# first, through the installed package (run outside any source tree)
smoke() {
    "$@" - <<'EOF'
import pickle
import hotcache, hotcache._native.core
c = hotcache.LRUCache(maxsize=2)
assert any(k.__module__ == hotcache._native.core.__name__ for k in type(c).__mro__), type(c).__mro__
c["a"] = 1; c["b"] = 2; c["a"]; c["c"] = 3          # "b" is the least recently used
assert sorted(c) == ["a", "c"], list(c)
t = hotcache.TTLCache(maxsize=10, ttl=60)
t["k"] = "v"
assert t.get("k") == "v" and pickle.loads(pickle.dumps(t))["k"] == "v"
m = hotcache.LFUCache(maxsize=1000, maxmemory="64KB")
for i in range(5000):
    m[i] = i
assert m.memory_used <= 64000 and len(m) > 0

@hotcache.lru_cache(maxsize=8)
def f(x):
    return x * 2

assert [f(1), f(1), f(2)] == [2, 2, 4] and f.cache_info().hits == 1
assert hotcache._native.core.CALL_PATH == "native", hotcache._native.core.CALL_PATH
print("smoke test: ok (hotcache %s, %s, decorator call path %s)"
      % (hotcache.__version__, hotcache._native.core.__file__, hotcache._native.core.CALL_PATH))
EOF
}

if [ "$MODE" = full ]; then
    step "tools venv (build, auditwheel, cibuildwheel) with $("$PY" --version 2>&1)"
else
    step "wheel only: tools venv (build, auditwheel) with $("$PY" --version 2>&1)"
fi
"$PY" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
quiet_pip "$TOOLS/python" -m pip install -q --disable-pip-version-check --upgrade pip
if [ "$MODE" = full ]; then
    quiet_pip "$TOOLS/python" -m pip install -q --disable-pip-version-check build auditwheel cibuildwheel==4.3.5
else
    quiet_pip "$TOOLS/python" -m pip install -q --disable-pip-version-check build auditwheel
fi

if [ "$MODE" = wheel-only ]; then
    # the full proof (one interpreter) checks the sdist; here only this interpreter's wheel counts
    step "python -m build --wheel"
    "$TOOLS/python" -m build --wheel --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || {
        tail -n 60 "$WORK/build.log"
        exit 1
    }
    WHEEL="$(ls "$WORK"/dist/hotcache-*.whl)"
    echo "wheel: $(basename "$WHEEL")"
else
    step "python -m build: sdist, then the wheel built from the sdist"
    "$TOOLS/python" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || {
        tail -n 60 "$WORK/build.log"
        exit 1
    }
    SDIST="$(ls "$WORK"/dist/hotcache-*.tar.gz)"
    WHEEL="$(ls "$WORK"/dist/hotcache-*.whl)"
    echo "sdist: $(basename "$SDIST")"
    echo "wheel: $(basename "$WHEEL")"
    tar -tzf "$SDIST" >"$WORK/sdist.list"
    for needed in csrc/hc_core.h csrc/Makefile src/hotcache/_native/core.pyx src/hotcache/_native/subclass.pxi tests/conftest.py tests/helpers.py benchmarks/hit_ratio.py docs/index.md mkdocs.yml CHANGELOG.md; do
        grep -q "^hotcache-[^/]*/$needed\$" "$WORK/sdist.list" || { echo "sdist lacks $needed"; exit 1; }
    done
    if grep -E '\.(so|pyd|o)$' "$WORK/sdist.list"; then echo "sdist contains binaries (above)"; exit 1; fi
    echo "sdist: $(wc -l <"$WORK/sdist.list") entries, C headers and tests included, no binaries"
fi

step "auditwheel repair"
# auditwheel needs patchelf >= 0.14.5: PyPI's `patchelf` wheel first (Debian 12 ships 0.14.3),
# apt-get's as the fallback
patchelf_ok() {
    local v
    v="$(PATH="$TOOLS:$PATH" patchelf --version 2>/dev/null | awk '{print $2}')" || return 1
    [ -n "$v" ] && [ "$(printf '%s\n0.14.5\n' "$v" | sort -V | head -n 1)" = 0.14.5 ]
}
patchelf_ok || quiet_pip "$TOOLS/python" -m pip install -q --disable-pip-version-check patchelf || true
if ! patchelf_ok; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    { $SUDO apt-get install -y -qq patchelf || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq patchelf; }; } >/dev/null
fi
echo "patchelf $(PATH="$TOOLS:$PATH" patchelf --version | awk '{print $2}')"
PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$WHEEL" >"$WORK/repair.log" 2>&1 || {
    cat "$WORK/repair.log"
    exit 1
}
REPAIRED="$(ls "$WORK"/wheelhouse/hotcache-*.whl)"
echo "repaired: $(basename "$REPAIRED")"
"$TOOLS/auditwheel" show "$REPAIRED" | tr '\n' ' ' | sed 's/  */ /g' | fold -s -w 100
echo
TAG="$(basename "$REPAIRED" .whl | awk -F- '{print $NF}')"
case "$TAG" in
    manylinux*) echo "manylinux tag: $TAG" ;;
    *) echo "not a manylinux wheel: $TAG"; exit 1 ;;
esac

if [ "$MODE" = full ]; then
    step "fresh venv: the repaired wheel + test deps; tests run outside the source tree, no compiler on PATH"
else
    step "fresh venv: the repaired wheel alone; imported outside the source tree, no compiler on PATH"
fi
"$PY" -m venv "$WORK/wheelenv"
WENV="$WORK/wheelenv/bin"
if [ "$MODE" = full ]; then
    quiet_pip "$WENV/python" -m pip install -q --disable-pip-version-check "$REPAIRED" pytest hypothesis cachetools "redis[hiredis]>=5" "cryptography>=42" "msgpack>=1.0" "prometheus-client>=0.19" "lmdb>=3.0" "matplotlib>=3.8"
else
    quiet_pip "$WENV/python" -m pip install -q --disable-pip-version-check "$REPAIRED"
fi
# the suite comes from the sdist (what users get), unpacked away from the source tree (README.md
# and docs/ too: tests/docs/test_examples.py runs their examples); wheel-only: an empty directory
mkdir -p "$WORK/suite"
if [ "$MODE" = full ]; then
    tar -xzf "$SDIST" -C "$WORK/suite" --strip-components=1 --wildcards '*/tests/*' '*/benchmarks/*' '*/README.md' \
        '*/docs/*' '*/mkdocs.yml'
fi
# PATH: the venv's bin plus a dir holding only the non-compiler tools the suite may call
mkdir -p "$WORK/nocc"
# uname for the tests; redis-server for the Redis tests, which start their own servers; mount and
# umount for the disk-full test (a size-limited tmpfs, when run as root)
for tool in uname redis-server mount umount; do
    src="$(command -v "$tool" || true)"
    [ -n "$src" ] && ln -s "$src" "$WORK/nocc/$tool"
done
NOCC_PATH="$WENV:$WORK/nocc"
for cc in cc gcc clang c99 tcc; do
    if env PATH="$NOCC_PATH" /bin/sh -c "command -v $cc" >/dev/null 2>&1; then
        echo "a C compiler ($cc) is reachable on the test PATH: $NOCC_PATH"
        exit 1
    fi
done
env PATH="$NOCC_PATH" /bin/sh -c 'command -v cc gcc' >/dev/null 2>&1 && exit 1
echo "command -v cc gcc under the test PATH: not found (as intended)"
cd "$WORK/suite"
env -i HOME="$WORK" PATH="$NOCC_PATH" LANG=C.UTF-8 CI="${CI:-}" HOTCACHE_WHEEL_TEST=1 \
    "$WENV/python" - "$WENV" <<'EOF'
import os, sys
import hotcache, hotcache._native.core
venv = os.path.dirname(sys.argv[1])
for mod in (hotcache, hotcache._native.core):
    assert mod.__file__.startswith(venv), (mod.__name__, mod.__file__)
    print("%-21s %s" % (mod.__name__, mod.__file__))
EOF
if [ "$MODE" = wheel-only ]; then
    smoke env -i HOME="$WORK" PATH="$NOCC_PATH" LANG=C.UTF-8 "$WENV/python"
    step "wheel-only proof passed in $((SECONDS - T0)) s ($(basename "$REPAIRED"))"
    exit 0
fi
env -i HOME="$WORK" PATH="$NOCC_PATH" LANG=C.UTF-8 CI="${CI:-}" HOTCACHE_WHEEL_TEST=1 \
    "$WENV/python" -m pytest tests -x -q -p no:cacheprovider -rs 2>&1 | tee "$WORK/pytest.log" | tail -n 15
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "wheel test suite FAILED"; exit 1; }
grep -Eq '^[0-9]+ passed' <(tail -n 1 "$WORK/pytest.log") || { echo "no passing summary line"; exit 1; }
if command -v redis-server >/dev/null 2>&1 && grep -q "redis-server not found" "$WORK/pytest.log"; then
    echo "Redis tests were skipped although redis-server is installed"; exit 1
fi
echo "wheel venv summary: $(tail -n 1 "$WORK/pytest.log")"
cd "$ROOT"

step "fresh venv: install from the sdist alone (compiler allowed)"
"$PY" -m venv "$WORK/sdistenv"
SENV="$WORK/sdistenv/bin"
quiet_pip "$SENV/python" -m pip install -q --disable-pip-version-check "$SDIST"
cd "$WORK"
"$SENV/python" -c "import hotcache, hotcache._native.core"
smoke "$SENV/python"
cd "$ROOT"

step "cibuildwheel --print-build-identifiers --platform linux"
IDS="$(cd "$ROOT" && "$TOOLS/cibuildwheel" --print-build-identifiers --platform linux)"
echo "$IDS"
CIBW_VERSION="$("$TOOLS/python" -c 'import cibuildwheel; print(cibuildwheel.__version__)')"
echo "cibuildwheel $CIBW_VERSION: $(echo "$IDS" | grep -c .) Linux build identifiers"
if echo "$IDS" | grep -E 'cp3[0-9]+t-'; then echo "free-threaded builds selected (above)"; exit 1; fi

step "wheel proof passed in $((SECONDS - T0)) s"
