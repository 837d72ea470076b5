#!/usr/bin/env bash
# The one test command (`npm test`): Debian peers, node modules, build, then
# every compiled test file under node's built-in runner. Exits with the
# runner's code.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Real peers (SIPp, kamailio, sipsak, sipvicious, baresip) and PostgreSQL/Redis.
bash scripts/install-deps.sh || echo "test: install-deps failed; tests that need its packages may skip or fail" >&2

# 2. Node modules.
if [ ! -d node_modules ]; then
  if [ -f package-lock.json ] && [ "${CI:-}" = true ]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

# 3. One code style (Prettier, .prettierrc.json): `npm run format` fixes what this finds.
if ! npm run --silent format:check >/tmp/trunkline-format.log 2>&1; then
  grep '^\[warn\]' /tmp/trunkline-format.log | head -20 >&2
  echo "test: files not formatted: run npm run format" >&2
  exit 1
fi

# 4. Build src/, test/, bench/ into dist/, and the web console (web/, Vite) into dist/web.
node_modules/.bin/tsc -p tsconfig.json
node_modules/.bin/tsc -p web/tsconfig.json
node_modules/.bin/vite build web --logLevel warn

# 5. Every test file whose source still exists (dist/ may hold files of deleted tests).
files=()
while IFS= read -r js; do
  rel=${js#dist/}
  [ -f "${rel%.js}.ts" ] && files+=("$js")
done < <(find dist/test -type f -name '*.test.js' | sort)

if [ "${#files[@]}" -eq 0 ]; then
  echo "test: no test files found under dist/test" >&2
  exit 1
fi

# Two files at a time: most of a file's time is waiting (peers, timers at RFC
# intervals), and the machine has two cores or more. TEST_CONCURRENCY=1 runs
# one file at a time.
#
# No file may hold the suite: under `node --test`, --test-timeout bounds each
# file as a whole (a file still running then is cancelled, its process
# ended, and the run fails), and inside a file it is the timeout of every
# test that sets none of its own. 10 minutes by default
# (TEST_FILE_TIMEOUT_MS): more than any file's tests take together at their
# own `timeout:` options (at most 8 minutes, test/cluster/security.test.ts).
#
# The runner has a process group of its own (set -m), so whatever a file
# left running (a server or peer of a file cut off at its timeout) is ended
# with the group once the runner is done; a signal to this script goes to
# the group too.
set +e
set -m
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_FILE_TIMEOUT_MS:-600000}" \
  --test-reporter=spec "${files[@]}" &
runner=$!
set +m
trap 'kill -TERM -- "-$runner" 2>/dev/null' INT TERM HUP
wait "$runner"
code=$?
# wait returns early when a trapped signal arrives: the runner's own code is the one kept.
while kill -0 "$runner" 2>/dev/null; do
  wait "$runner"
  code=$?
done
trap - INT TERM HUP
kill -KILL -- "-$runner" 2>/dev/null
set -e
exit "$code"
