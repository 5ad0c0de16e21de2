using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Thaw.Cli.Client;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw invoke NAME [EVENT]`: one call; the result on stdout as raw JSON (for jq), the rest on stderr.</summary>
internal static class InvokeCommand
{
    /// <summary>Exit code when the handler raised (its traceback is on stderr).</summary>
    public const int HandlerErrorExitCode = 1;

    /// <summary>Exit code when there was no result for another reason: a bad event, thawd unreachable, an API error.</summary>
    public const int FailedExitCode = 2;

    private static readonly Argument<string> Name = new("name") { Description = "The function." };
    private static readonly Argument<string?> Event = new("event") { Description = "The event: JSON text, @file to read it from a file, or - for stdin (default {}).", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<bool> Timing = new("--timing") { Description = "Print on stderr whether the start was cold or warm and the call's phases (Server-Timing)." };

    public static Command Create()
    {
        var command = new Command("invoke", $"Call a function with a JSON event and print its result (raw JSON) on stdout. Exit status: 0 a result, {HandlerErrorExitCode} the handler raised (its traceback on stderr), {FailedExitCode} no call (bad event, thawd unreachable, API error). Examples: thaw invoke hello '{{\"name\": \"you\"}}' | jq .greeting; thaw invoke hello @event.json --timing")
        {
            Name, Event, Timing, ClientOptions.Url,
        };
        command.SetAction(async (parse, token) =>
        {
            using var client = ClientOptions.Client(parse);
            return await RunAsync(client, parse.GetValue(Name)!, parse.GetValue(Event), parse.GetValue(Timing), Console.OpenStandardInput(), Console.Out, Console.Error, token);
        });
        return command;
    }

    public static async Task<int> RunAsync(ThawClient client, string name, string? @event, bool timing, Stream stdin, TextWriter stdout, TextWriter stderr, CancellationToken token)
    {
        Invocation call;
        try
        {
            byte[] json = await ReadEventAsync(@event, stdin, token);
            call = await client.InvokeAsync(name, json, token);
        }
        catch (ThawApiException e)
        {
            await stderr.WriteLineAsync($"thaw: {e.Message}");
            if (e.Traceback is { } traceback)
                await stderr.WriteLineAsync(traceback.TrimEnd());
            return FailedExitCode;
        }
        catch (Exception e) when (e is IOException or ArgumentException or TimeoutException)
        {
            await stderr.WriteLineAsync($"thaw: {e.Message}");
            return FailedExitCode;
        }
        if (timing)
            await stderr.WriteLineAsync(TimingLine(call));
        if (call.Succeeded)
        {
            await stdout.WriteLineAsync(Encoding.UTF8.GetString(call.Body));
            await stdout.FlushAsync(token);
            return 0;
        }
        await stderr.WriteLineAsync(HandlerError(call.Body));
        return HandlerErrorExitCode;
    }

    /// <summary>The event's bytes: the argument itself, @file's contents, stdin's for -, {} when none. Empty means null to thawd.</summary>
    internal static async Task<byte[]> ReadEventAsync(string? @event, Stream stdin, CancellationToken token)
    {
        (byte[] bytes, string source) = @event switch
        {
            null => ("{}"u8.ToArray(), "default"),
            "-" => (await ReadAllAsync(stdin, token), "stdin"),
            ['@', .. var path] => (await File.ReadAllBytesAsync(path, token), path),
            _ => (Encoding.UTF8.GetBytes(@event), "argument"),
        };
        if (bytes.Length == 0)
            return bytes;
        if (Thaw.Runtimes.Utf8Text.FindInvalid(bytes) is { } where)
            throw new ArgumentException($"the event ({source}) is not valid UTF-8: {where}");
        try
        {
            using var _ = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"the event ({source}) is not JSON: {e.Message}");
        }
        return bytes;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken token)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, token);
        return buffer.ToArray();
    }

    /// <summary>"cold start · version 1 · sandbox 7 · claim 0.05 ms, fork 1.2 ms, … total 31 ms".</summary>
    internal static string TimingLine(Invocation call)
    {
        var parts = new List<string> { $"{call.Start ?? "?"} start" };
        if (call.Version is { } version)
            parts.Add($"version {version}");
        if (call.Sandbox is { } sandbox)
            parts.Add($"sandbox {sandbox}");
        parts.Add(call.Phases.Count == 0 ? "no Server-Timing" : string.Join(", ", call.Phases.Select(p => $"{p.Key} {Ms(p.Value)}")));
        return string.Join(" · ", parts);
    }

    /// <summary>The handler's traceback as Python prints it (its last line is the type and message), or the type and message alone.</summary>
    private static string HandlerError(byte[] body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject error)
            {
                string? traceback = ThawClient.Text(error["traceback"]);
                return !string.IsNullOrWhiteSpace(traceback)
                    ? traceback.TrimEnd()
                    : $"{Text(error["type"])}: {Text(error["message"])}";
            }
        }
        catch (JsonException)
        {
        }
        return "thaw: the handler raised: " + Encoding.UTF8.GetString(body);
    }
}
