// Placeholder entry point so the solution (and the test project that references the CLI) builds;
// the real `thaw` commands (serve, deploy, invoke, …) replace it.
return 0;
