using System.CommandLine;
using Thaw.Cli.Commands;

var root = new RootCommand("Thaw: a serverless platform for Linux whose sandboxes start from pre-crafted kernel resources and pre-initialised zygotes.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
return await root.Parse(args).InvokeAsync();
