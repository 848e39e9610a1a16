"""BuildKit's Dockerfile language: the parser (directives, continuations, heredocs), the
shell lexer (variable expansion by BuildKit's rules) and the typed instructions."""
