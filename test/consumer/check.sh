#!/usr/bin/env bash
# First run as a user has it: a new Mix app that depends on a pristine clone of
# this repository by path. Its first `mix run` must load the NIF and save and
# load a key through both drop-ins; its first `MIX_ENV=prod mix release` must
# ship the library, and `bin/<app> eval` must do the same.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Reuse compiled registry crates; the clone's own crates are rebuilt.
export CARGO_TARGET_DIR=${CONSUMER_CARGO_TARGET_DIR:-$repo/target}

echo "==> cloning $(git -C "$repo" rev-parse --short HEAD) (committed state only)"
git clone --quiet --no-hardlinks "$repo" "$work/baileys_ex_nif_persistence"

cd "$work"
mix new consumer_app >/dev/null
cd consumer_app

# The deps line exactly as the README gives it, with the clone's path.
cat > mix.exs <<'MIX'
defmodule ConsumerApp.MixProject do
  use Mix.Project

  def project do
    [app: :consumer_app, version: "0.1.0", elixir: "~> 1.14", deps: deps()]
  end

  def application, do: [extra_applications: [:logger]]

  defp deps do
    [{:baileys_ex_nif_persistence, path: "../baileys_ex_nif_persistence"}]
  end
end
MIX

cp "$repo/test/consumer/check.ex" lib/consumer_app_check.ex

echo "==> first command: mix run (compiles the dependency, cargo included)"
out=$(mix run -e 'ConsumerAppCheck.run()' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -3
echo "$out" | grep -q "consumer check OK"

echo "==> mix deps.compile --force reruns cargo"
out=$(mix deps.compile baileys_ex_nif_persistence --force 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -q "Compiling NIF crate" || { echo "$out"; echo "cargo did not run"; exit 1; }

echo "==> first release: MIX_ENV=prod mix release"
out=$(MIX_ENV=prod mix release --overwrite 2>&1) || { echo "$out"; exit 1; }
rel=_build/prod/rel/consumer_app
so=$(find "$rel/lib" -path '*baileys_ex_nif_persistence*/priv/native/baileys_ex_nif.so' | head -1)
[ -n "$so" ] || { echo "the release carries no baileys_ex_nif.so"; exit 1; }
echo "release carries ${so#"$rel/"}"

# The release must not depend on the clone it was built from.
mv "$work/baileys_ex_nif_persistence" "$work/moved_away"
out=$("$rel/bin/consumer_app" eval 'ConsumerAppCheck.run()' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -3
echo "$out" | grep -q "consumer check OK"
echo "consumer check passed: first mix run and first release both load the NIF"
