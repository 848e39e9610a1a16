"""The Dockerfile builder (DESIGN.md): the frontend turns a Dockerfile into stages of typed
instructions, the context and cache modules say what a step reads and whether it ran
before, and the builder runs the steps — RUN through a step runner the engine supplies,
COPY/ADD and metadata here — one layer per filesystem-changing instruction."""
