# Long reliability runs (`make stress`) are tagged :stress and excluded here;
# `mix test --only stress` runs them.
ExUnit.start(exclude: [:stress])
