using System.Text;
using System.Text.Json;
using Thaw.Cli.Client;
using Thaw.Cli.Commands;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli.Client;

/// <summary>The client commands' work (as `thaw deploy`, `invoke`, `ls`, `rm`, `logs`, `stats` do it) against a real thawd.</summary>
public sealed class ClientCommandTests(ThawdFixture fixture) : IClassFixture<ThawdFixture>, IDisposable
{
    private const string Echo = "def f(event):\n    return {'got': event}\n";

    private readonly ThawClient _client = new(fixture.Thawd.Thawd.Url.ToString());

    [Fact]
    public async Task Deploy_then_invoke_with_a_JSON_argument_a_file_and_stdin()
    {
        string dir = fixture.Thawd.FunctionDir("name = \"echo\"\nmemory = \"64M\"\n", ("f.py", Echo));
        var (console, output) = ThawdFixture.Console();
        Assert.Equal(0, await DeployCommand.RunAsync(_client, dir, null, console, default));
        string summary = output.ToString();
        Assert.Contains("created echo version 1", summary, StringComparison.Ordinal);
        Assert.Contains("python f.f · 64 MiB · timeout 30s ·", summary, StringComparison.Ordinal);
        Assert.Matches(@"zygote\s+root", summary);

        var (code, stdout, stderr) = await InvokeAsync("echo", """{"n": 1}""", timing: true);
        Assert.Equal((0, "{\"got\":{\"n\":1}}\n"), (code, stdout));
        Assert.StartsWith("cold start · version 1 · sandbox ", stderr, StringComparison.Ordinal);
        foreach (var phase in new[] { "claim ", "fork ", "init ", "call ", "total " })
            Assert.Contains(phase, stderr, StringComparison.Ordinal);

        string file = Path.Combine(dir, "event.json");
        await File.WriteAllTextAsync(file, "[1, 2]");
        (code, stdout, stderr) = await InvokeAsync("echo", "@" + file, timing: true);
        Assert.Equal((0, "{\"got\":[1,2]}\n"), (code, stdout));
        Assert.StartsWith("warm start", stderr, StringComparison.Ordinal);

        (code, stdout, _) = await InvokeAsync("echo", "-", stdin: "\"piped\"");
        Assert.Equal((0, "{\"got\":\"piped\"}\n"), (code, stdout));
        (code, stdout, _) = await InvokeAsync("echo", null);
        Assert.Equal((0, "{\"got\":{}}\n"), (code, stdout));

        (console, output) = ThawdFixture.Console();
        await DeployCommand.RunAsync(_client, dir, null, console, default);
        Assert.Contains("updated echo to version 2", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_handler_error_exits_1_with_its_traceback_and_the_logs_show_its_output()
    {
        await fixture.Thawd.DeployOkAsync("fails", "name = \"fails\"\n", ("f.py", "def f(event):\n    print('about to fail', event)\n    raise ValueError('bad input')\n"));
        var (code, stdout, stderr) = await InvokeAsync("fails", "\"x\"");
        Assert.Equal(InvokeCommand.HandlerErrorExitCode, code);
        Assert.Equal("", stdout);
        Assert.Contains("raise ValueError('bad input')", stderr, StringComparison.Ordinal);
        Assert.EndsWith("ValueError: bad input\n", stderr, StringComparison.Ordinal);

        string logs = await Wait.UntilAsync(async () =>
        {
            var writer = new StringWriter();
            await LogsCommand.RunAsync(_client, "fails", 50, writer, default);
            return writer.ToString();
        }, l => l.Contains("stdout: about to fail x", StringComparison.Ordinal));
        Assert.Contains("handler raised ValueError: bad input", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ls_describe_and_stats_show_the_function_and_the_node()
    {
        await fixture.Thawd.DeployOkAsync("listed", "name = \"listed\"\nconcurrency = 3\n", ("f.py", Echo));
        Assert.Equal(0, (await InvokeAsync("listed", "{}")).Code);

        var (console, output) = ThawdFixture.Console();
        await ListCommand.RunAsync(_client, json: false, console, default);
        Assert.Matches(@"│ listed\s+│ 1\s+│ python f\.f\s+│ 128 MiB\s+│ 3\s+│ root\s+│ 0/1/0\s+│ 1/0\s+│", output.ToString());
        (console, output) = ThawdFixture.Console();
        await ListCommand.RunAsync(_client, json: true, console, default);
        using (var list = JsonDocument.Parse(output.ToString()))
            Assert.Contains(list.RootElement.GetProperty("functions").EnumerateArray(), f => f.GetProperty("name").GetString() == "listed");

        (console, output) = ThawdFixture.Console();
        await DescribeCommand.RunAsync(_client, "listed", json: false, console, default);
        Assert.Matches(@"│ handler\s+│ f\.f\s+│", output.ToString());
        Assert.Matches(@"│ invocations\s+│ cold 1, warm 0\s+│", output.ToString());

        var described = await _client.DescribeAsync("listed");
        Assert.Equal(1, (int)described["invocations"]!["cold"]!);
        Assert.Equal(3, (int)described["concurrency"]!);

        (console, output) = ThawdFixture.Console();
        await StatsCommand.RunAsync(_client, json: false, console, default);
        string stats = output.ToString();
        foreach (var part in new[] { "pools", "netns-none", "cgroup", "zygotes", "root (pid ", "handler cache", "memory budget", "4 GiB" })
            Assert.Contains(part, stats, StringComparison.Ordinal);
        (console, output) = ThawdFixture.Console();
        await StatsCommand.RunAsync(_client, json: true, console, default);
        using (var json = JsonDocument.Parse(output.ToString()))
            Assert.True(json.RootElement.GetProperty("handler_cache").GetProperty("cold_calls").GetInt32() >= 1);
    }

    [Fact]
    public async Task Rm_says_how_many_sandboxes_stopped_then_the_function_is_not_found()
    {
        await fixture.Thawd.DeployOkAsync("gone", "name = \"gone\"\n", ("f.py", Echo));
        Assert.Equal(0, (await InvokeAsync("gone", "{}")).Code);
        var stdout = new StringWriter();
        Assert.Equal(0, await RemoveCommand.RunAsync(_client, "gone", stdout, default));
        Assert.Equal("removed gone (1 sandbox stopped)\n", stdout.ToString());

        var missing = await Assert.ThrowsAsync<ThawApiException>(() => _client.RemoveAsync("gone"));
        Assert.Equal((404, "not_found", "no function named 'gone' (deploy it with `thaw deploy DIR`)"), (missing.Status, missing.Code, missing.Message));
        var (code, _, stderr) = await InvokeAsync("gone", "{}");
        Assert.Equal((InvokeCommand.FailedExitCode, "thaw: no function named 'gone' (deploy it with `thaw deploy DIR`)\n"), (code, stderr));
    }

    [Fact]
    public async Task A_refused_deploy_is_a_ThawApiException_with_the_servers_code_and_traceback()
    {
        var packed = FunctionPacker.Pack(fixture.Thawd.FunctionDir("name = \"broken\"\n", ("f.py", "import no_such_module\n")));
        var refused = await Assert.ThrowsAsync<ThawApiException>(() => _client.DeployAsync(packed.Name, packed.Archive));
        Assert.Equal((400, "bad_handler"), (refused.Status, refused.Code));
        Assert.Contains("No module named 'no_such_module'", refused.Traceback, StringComparison.Ordinal);

        var badName = await Assert.ThrowsAsync<ThawApiException>(() => _client.DeployAsync("Not_A_Name", packed.Archive));
        Assert.Equal((400, "bad_name"), (badName.Status, badName.Code));
        Assert.StartsWith("function name 'Not_A_Name' must be", badName.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_unix_socket_url_works()
    {
        using var client = new ThawClient("unix:" + fixture.UnixSocket);
        Assert.Equal("ok", (string)(await client.HealthAsync())["status"]!);
        var (console, output) = ThawdFixture.Console();
        await DeployCommand.RunAsync(client, fixture.Thawd.FunctionDir("name = \"viasock\"\n", ("f.py", Echo)), null, console, default);
        Assert.Contains("created viasock version 1", output.ToString(), StringComparison.Ordinal);
        var call = await client.InvokeAsync("viasock", "42"u8.ToArray());
        Assert.Equal((200, "{\"got\":42}", "cold", 1), (call.Status, Encoding.UTF8.GetString(call.Body), call.Start, call.Version));
        Assert.True(call.Phases["total"] > 0);
    }

    [Fact]
    public async Task An_event_that_is_not_utf8_is_refused_naming_where()
    {
        string file = Path.Combine(fixture.Thawd.FunctionDir("name = \"unused\"\n"), "event.json");
        await File.WriteAllBytesAsync(file, [.. "{\"name\":\n \"caf"u8, 0xE9, .. "\"}"u8]); // Latin-1 é
        var (code, stdout, stderr) = await InvokeAsync("anything", "@" + file);
        Assert.Equal((InvokeCommand.FailedExitCode, ""), (code, stdout));
        Assert.Equal($"thaw: the event ({file}) is not valid UTF-8: line 2, column 6 (byte 0xE9 at offset 14)\n", stderr);
    }

    public void Dispose() => _client.Dispose();

    private async Task<(int Code, string Stdout, string Stderr)> InvokeAsync(string name, string? @event, bool timing = false, string stdin = "")
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        int code = await InvokeCommand.RunAsync(_client, name, @event, timing, input, stdout, stderr, default);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
