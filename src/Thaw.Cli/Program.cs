using System.CommandLine;
using Spectre.Console;
using Thaw.Cli.Commands;

// Piped or captured output (CI logs, `| tee`) has no terminal width; keep tables readable there.
if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = 160;

var root = new RootCommand("Thaw: a serverless platform for Linux whose sandboxes start from pre-crafted kernel resources and pre-initialised zygotes.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PoolsCommand.Create());
return await root.Parse(args).InvokeAsync();
