using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Spectre.Console;
using Thaw.Cli.Client;
using Thaw.Runtimes;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw deploy DIR`: pack a function directory, upload it, show what thawd made of it.</summary>
internal static class DeployCommand
{
    private static readonly Argument<string> Dir = new("dir") { Description = "The function directory: thaw.toml at its top, beside the code." };
    private static readonly Option<string?> Name = new("--name") { Description = "Deploy under this name instead of thaw.toml's (the uploaded thaw.toml says it)." };

    public static Command Create()
    {
        var command = new Command("deploy", "Pack a function directory (thaw.toml and its code; __pycache__, *.pyc and .git left out) and deploy it to thawd, which installs its packages and starts it once to prove the handler loads (Python; an exec function, runtime = \"exec\", has its command checked instead). Deploying again makes a new version; calls in flight finish on the old one. Example: thaw deploy examples/hello")
        {
            Dir, Name, ClientOptions.Url,
        };
        command.SetAction(async (parse, token) =>
        {
            using var client = ClientOptions.Client(parse);
            return await RunAsync(client, parse.GetValue(Dir)!, parse.GetValue(Name), AnsiConsole.Console, token);
        });
        return command;
    }

    public static async Task<int> RunAsync(ThawClient client, string dir, string? name, IAnsiConsole console, CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        JsonObject reply = await console.Status().StartAsync("packing…", async status =>
        {
            var packed = FunctionPacker.Pack(dir, name);
            status.Status($"uploading {packed.Name} ({Bytes(packed.Archive.Length)}) to {client.Url}…");
            return await client.DeployAsync(packed.Name, packed.Archive, () => status.Status("installing packages and validating…"), token);
        });
        Print(reply, watch.Elapsed.TotalMilliseconds, console);
        return 0;
    }

    private static void Print(JsonObject reply, double elapsedMs, IAnsiConsole console)
    {
        string name = Text(reply["name"]);
        string version = Count(reply["version"]);
        console.MarkupLine(Flag(reply["created"])
            ? $"[green]created[/] {Markup.Escape(name)} version {version}"
            : $"[green]updated[/] {Markup.Escape(name)} to version {version}");
        void Line(string label, string value) => console.WriteLine($"  {label,-9} {value}");
        if (Runs(reply) is { } runs)
            Line("runs", $"{runs} · {Count(reply["memory_mb"])} MiB · timeout {Units.FormatDuration(TimeSpan.FromSeconds(Number(reply["timeout_s"])))} · concurrency {Count(reply["concurrency"])}");
        Line("packages", List(reply["packages"]));
        if (Items(reply["installed"]).Any())
            Line("installed", List(reply["installed"]));
        if (Items(reply["packages_seen"]).Any())
            Line("imported", List(reply["packages_seen"]));
        Line("zygote", Text(reply["zygote"]));
        var timings = reply["timings_ms"];
        Line("timings", $"extract {Ms(Number(timings?["extract"]))} · packages {Ms(Number(timings?["packages"]))} · validate {Ms(Number(timings?["validate"]))} · deploy in all {Ms(elapsedMs)}");
    }
}
