// Keeps the test utility library non-empty before any helper is added.
