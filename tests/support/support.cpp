// Test support library: fakes and helpers shared by the suites.
