// Gives every library at least one translation unit (CMake refuses empty static libraries).
