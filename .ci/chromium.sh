# Sourced by .ci/run: the browser the docs site's tests drive (through Playwright, which never
# downloads one here). Installs Debian's chromium when none is on PATH; the browser tests fail in
# CI without one.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install Chromium"
fi
if command -v chromium >/dev/null; then
  echo "Chromium ready: $(chromium --version 2>/dev/null | head -1)"
else
  echo "Chromium is not available on this machine; the browser tests will fail in CI"
fi
