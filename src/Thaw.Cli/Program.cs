using System.CommandLine;
using Spectre.Console;
using Thaw.Cli.Client;
using Thaw.Cli.Commands;

// Socket continuations run on the epoll thread that saw the completion instead of being queued to
// the thread pool: a warm call's reply from its sandbox reaches the HTTP response without a thread
// hop (thaw bench http: see docs/benchmarks.md). Read once, before the first socket is used; thawd
// keeps synchronous work off those paths (the zygote has its own reader thread; archives unpack on
// the thread pool). An explicit setting in the environment wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

// Piped or captured output (CI logs, `| tee`) has no terminal width; keep tables readable there.
if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = 160;

var root = new RootCommand("Thaw: a serverless platform for Linux whose sandboxes start from pre-crafted kernel resources and pre-initialised zygotes.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(InstallServiceCommand.Create());
root.Subcommands.Add(DeployCommand.Create());
root.Subcommands.Add(InvokeCommand.Create());
root.Subcommands.Add(ListCommand.Create());
root.Subcommands.Add(DescribeCommand.Create());
root.Subcommands.Add(RemoveCommand.Create());
root.Subcommands.Add(LogsCommand.Create());
root.Subcommands.Add(StatsCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PoolsCommand.Create());
root.Subcommands.Add(RunCommand.Create());
try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration
    {
        EnableDefaultExceptionHandler = false,
        // Ctrl-C and SIGTERM cancel the command's token; the process is ended only if the command has
        // not finished this long after (thawd lets calls in flight finish, then stops every sandbox).
        ProcessTerminationTimeout = TimeSpan.FromSeconds(60),
    });
}
catch (OperationCanceledException)
{
    // Ctrl-C or SIGTERM: the command stopped what it started on its way out (the `finally`s of
    // benches and of serve); the exit code is the shell's for an interrupt.
    Console.Error.WriteLine("thaw: interrupted");
    return 130;
}
catch (ThawApiException e)
{
    // thawd's refusal, in its words (a deploy whose handler does not load brings its traceback).
    Console.Error.WriteLine($"thaw: {e.Message}");
    if (e.Traceback is { } traceback)
        Console.Error.WriteLine(traceback.TrimEnd());
    return 1;
}
catch (Exception e) when (e is ArgumentException or Thaw.Runtimes.Functions.ManifestException or Thaw.Linux.LinuxException or Thaw.Sandboxes.SandboxException or Thaw.Sandboxes.Zygotes.ZygoteException or IOException or InvalidOperationException or TimeoutException or UnauthorizedAccessException)
{
    // Bad input and kernel refusals are the user's to fix: one clear line, no stack trace.
    Console.Error.WriteLine($"thaw: {e.Message}");
    return 1;
}
