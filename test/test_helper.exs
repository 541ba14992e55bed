# Long reliability runs (`make stress`) are tagged :stress and excluded here;
# `mix test --only stress` runs them.
# The per-test timeout is a watchdog for a hang, not a measure of speed: a
# machine whose cores are busy with other work runs a test several times
# slower than an idle one, and that must never fail it.
# Likewise `assert_receive` waits up to a minute by default (ExUnit's 100 ms
# fails a test whose other process merely waited for a CPU).
ExUnit.start(exclude: [:stress], timeout: 600_000, assert_receive_timeout: 60_000)
