[
  inputs: ["{mix,.formatter}.exs", "{config,lib,test,mix,bench,demo}/**/*.{ex,exs}"]
]
