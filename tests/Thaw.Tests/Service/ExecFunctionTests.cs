using System.Net;
using System.Text.Json;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>Exec functions (runtime = "exec") through real HTTP: any program, a fresh sandbox per call, the event on stdin, stdout the result.</summary>
public sealed class ExecFunctionTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o => o.HandlerCache.QueueLength = 1);

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    private const string Echo = "read -r event\necho \"{\\\"got\\\": $event, \\\"pid\\\": $$}\"\necho \"handled $event\" >&2\n";

    [Fact]
    public async Task The_event_is_stdin_stdout_is_the_result_and_every_call_is_a_fresh_sandbox()
    {
        await _thawd.DeployOkAsync("shout", "name = \"shout\"\nruntime = \"exec\"\ncommand = [\"/bin/sh\", \"handler.sh\"]\n", ("handler.sh", Echo));
        var sandboxes = new HashSet<string>();
        for (int i = 0; i < 2; i++)
        {
            using var reply = await _thawd.InvokeAsync("shout", """{"n": 1}""");
            string body = await reply.Content.ReadAsStringAsync();
            Assert.True(reply.StatusCode == HttpStatusCode.OK, body);
            using var json = JsonDocument.Parse(body);
            Assert.Equal(1, json.RootElement.GetProperty("got").GetProperty("n").GetInt32());
            Assert.Equal(1, json.RootElement.GetProperty("pid").GetInt32()); // pid 1 of its own namespace
            Assert.Equal("cold", reply.Headers.GetValues("X-Thaw-Start").Single());
            Assert.Equal("none", reply.Headers.GetValues("X-Thaw-Zygote").Single());
            Assert.Contains("claim;dur=", reply.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
            sandboxes.Add(reply.Headers.GetValues("X-Thaw-Sandbox").Single());
        }
        Assert.Equal(2, sandboxes.Count);
        string logs = await Wait.UntilAsync(async () => await _thawd.Http.GetStringAsync("v1/functions/shout/logs"), l => l.Contains("handled", StringComparison.Ordinal));
        Assert.Contains("stderr: handled {\"n\": 1}", logs, StringComparison.Ordinal);

        // Text that is not JSON comes back as a string; a program in the base image works too.
        await _thawd.DeployOkAsync("plain", "name = \"plain\"\nruntime = \"exec\"\ncommand = [\"echo\", \"hello there\"]\n");
        using (var reply = await _thawd.InvokeAsync("plain", "null"))
            Assert.Equal("\"hello there\\n\"", await reply.Content.ReadAsStringAsync());
        // Nothing runs between calls: the function holds no sandbox.
        using var described = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/functions/shout"));
        var root = described.RootElement;
        Assert.Equal("exec", root.GetProperty("runtime").GetString());
        Assert.Equal("handler.sh", root.GetProperty("command")[1].GetString());
        Assert.Equal((0, 0), (root.GetProperty("sandboxes").GetProperty("busy").GetInt32(), root.GetProperty("sandboxes").GetProperty("idle").GetInt32()));
        Assert.Equal(2, root.GetProperty("invocations").GetProperty("cold").GetInt32());
    }

    [Fact]
    public async Task A_failing_program_a_timeout_and_memory_limit_are_clear_errors()
    {
        await _thawd.DeployOkAsync("fails", "name = \"fails\"\nruntime = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"echo broken >&2; exit 3\"]\n");
        using (var reply = await _thawd.InvokeAsync("fails", "{}"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, reply.StatusCode);
            using var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
            Assert.Equal("ExitCode", body.RootElement.GetProperty("type").GetString());
            Assert.Equal("the program exited with code 3", body.RootElement.GetProperty("message").GetString());
            Assert.Contains("broken", body.RootElement.GetProperty("traceback").GetString(), StringComparison.Ordinal);
        }

        await _thawd.DeployOkAsync("slow", "name = \"slow\"\nruntime = \"exec\"\ntimeout = \"300ms\"\ncommand = [\"sleep\", \"30\"]\n");
        using (var reply = await _thawd.InvokeAsync("slow", "{}"))
            Assert.Equal(HttpStatusCode.GatewayTimeout, reply.StatusCode);

        await _thawd.DeployOkAsync("hog", "name = \"hog\"\nruntime = \"exec\"\nmemory = \"32M\"\ncommand = [\"/usr/bin/python3\", \"-c\", \"x = bytearray(256 << 20)\"]\n");
        using (var reply = await _thawd.InvokeAsync("hog", "{}"))
        {
            using var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
            Assert.Equal("out_of_memory", body.RootElement.GetProperty("code").GetString());
            Assert.Contains("ran out of memory (limit 32 MiB)", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Concurrency_and_the_queue_hold_as_for_python_functions()
    {
        await _thawd.DeployOkAsync("one", "name = \"one\"\nruntime = \"exec\"\nconcurrency = 1\ncommand = [\"sleep\", \"1\"]\n");
        var calls = Enumerable.Range(0, 3).Select(_ => _thawd.InvokeAsync("one", "{}")).ToArray();
        var replies = await Task.WhenAll(calls);
        // One runs, one waits in the queue (length 1), one is refused.
        Assert.Equal(2, replies.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = Assert.Single(replies, r => r.StatusCode == (HttpStatusCode)429);
        Assert.NotNull(refused.Headers.RetryAfter);
        foreach (var r in replies)
            r.Dispose();
    }

    [Theory]
    [InlineData("command = [\"/no/such/program\"]\n", "neither in the function's code")]
    [InlineData("command = [\"./missing.sh\"]\n", "neither in the function's code")]
    [InlineData("command = [\"/bin/sh\"]\npackages = [\"thawtest-alpha\"]\n", "packages are for the python runtime")]
    public async Task A_bad_exec_manifest_is_refused_at_deploy(string command, string why)
    {
        using var reply = await _thawd.DeployAsync("bad", ThawdInstance.TarGz(_thawd.FunctionDir("name = \"bad\"\nruntime = \"exec\"\n" + command)));
        Assert.Equal(HttpStatusCode.BadRequest, reply.StatusCode);
        Assert.Contains(why, await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
