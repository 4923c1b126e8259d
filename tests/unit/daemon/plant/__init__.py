"""The whole plant on in-memory fakes, in virtual time, for the stateful invariants test."""
