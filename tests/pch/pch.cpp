// The host of the GoogleTest targets' precompiled header (tests/CMakeLists.txt,
// fila_test_pch): CMake compiles the header for this file, and the test
// targets reuse it. Nothing of its own.
