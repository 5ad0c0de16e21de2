using System.Net;
using System.Text.Json;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>Deploy, invoke, list, describe, remove through real HTTP against a real thawd.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync();

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    [Fact]
    public async Task Deploy_invoke_list_describe_and_remove()
    {
        using (var deployed = await _thawd.DeployAsync("echo", ThawdInstance.TarGz(_thawd.FunctionDir("name = \"echo\"\n", ("f.py", "def f(event):\n    return {'got': event}\n")))))
        {
            Assert.Equal(HttpStatusCode.Created, deployed.StatusCode);
            using var body = JsonDocument.Parse(await deployed.Content.ReadAsStringAsync());
            Assert.Equal(1, body.RootElement.GetProperty("version").GetInt32());
            Assert.Equal("root", body.RootElement.GetProperty("zygote").GetString());
        }

        using (var first = await _thawd.InvokeAsync("echo", """{"n": 1}"""))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal("""{"got":{"n":1}}""", await first.Content.ReadAsStringAsync());
            Assert.Equal("cold", first.Headers.GetValues("X-Thaw-Start").Single());
            string timing = first.Headers.GetValues("Server-Timing").Single();
            foreach (var phase in new[] { "claim;dur=", "fork;dur=", "init;dur=", "call;dur=", "total;dur=" })
                Assert.Contains(phase, timing, StringComparison.Ordinal);
        }
        using (var second = await _thawd.Http.PostAsync("run/echo", new StringContent("[1,2]")))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.Equal("""{"got":[1,2]}""", await second.Content.ReadAsStringAsync());
            Assert.Equal("warm", second.Headers.GetValues("X-Thaw-Start").Single());
        }

        // Back to back, one client: every call finds the sandbox the previous one returned.
        for (int i = 0; i < 10; i++)
        {
            using var again = await _thawd.InvokeAsync("echo", "{}");
            Assert.Equal("warm", again.Headers.GetValues("X-Thaw-Start").Single());
        }
        Assert.Single(_thawd.Thawd.Spawner.Live);

        using (var list = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/functions")))
            Assert.Equal("echo", list.RootElement.GetProperty("functions")[0].GetProperty("name").GetString());
        using (var describe = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/functions/echo")))
        {
            Assert.Equal(1, describe.RootElement.GetProperty("invocations").GetProperty("cold").GetInt32());
            Assert.Equal(11, describe.RootElement.GetProperty("invocations").GetProperty("warm").GetInt32());
            Assert.Equal(1, describe.RootElement.GetProperty("sandboxes").GetProperty("idle").GetInt32() + describe.RootElement.GetProperty("sandboxes").GetProperty("frozen").GetInt32());
        }

        using (var removed = await _thawd.Http.DeleteAsync("v1/functions/echo"))
        {
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
            using var body = JsonDocument.Parse(await removed.Content.ReadAsStringAsync());
            Assert.Equal(1, body.RootElement.GetProperty("sandboxes_stopped").GetInt32());
        }
        using (var gone = await _thawd.InvokeAsync("echo", "{}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            Assert.Contains("no function named 'echo'", await gone.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _thawd.Http.GetAsync("v1/functions/echo")).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(_thawd.StateDir, "functions", "echo")));
        Assert.Empty(_thawd.Thawd.Spawner.Live);
    }

    [Theory]
    [InlineData("aws", "lambda_function.lambda_handler", "lambda_function.py", "def lambda_handler(event, context):\n    return {'style': 'aws', 'request': context.aws_request_id is not None, 'x': event['x']}\n")]
    [InlineData("sebs", "function.handler", "function.py", "def handler(event):\n    return {'style': 'sebs', 'x': event['x']}\n")]
    [InlineData("openlambda", "f.f", "f.py", "def f(event):\n    return {'style': 'openlambda', 'x': event['x']}\n")]
    public async Task Each_handler_style_is_served(string style, string handler, string file, string code)
    {
        await _thawd.DeployOkAsync(style, $"name = \"{style}\"\nhandler = \"{handler}\"\n", (file, code));
        using var reply = await _thawd.InvokeAsync(style, """{"x": 7}""");
        string body = await reply.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(style, json.RootElement.GetProperty("style").GetString());
        Assert.Equal(7, json.RootElement.GetProperty("x").GetInt32());
    }

    [Fact]
    public async Task A_function_with_fresh_isolation_is_served_from_its_Morula_pool()
    {
        await _thawd.DeployOkAsync("fresh", "name = \"fresh\"\nisolation = \"fresh\"\n", ("f.py", "import os\ndef f(event):\n    return os.getpid()\n"));
        using var first = await _thawd.InvokeAsync("fresh", "{}");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("cold", first.Headers.GetValues("X-Thaw-Start").Single());
        Assert.Equal("1", await first.Content.ReadAsStringAsync()); // pid 1 of its own pid namespace
        using (var second = await _thawd.InvokeAsync("fresh", "{}"))
            Assert.Equal("warm", second.Headers.GetValues("X-Thaw-Start").Single());
        Assert.Equal(1, _thawd.Thawd.Python.MorulaPools);

        // Removed, its pool of fresh interpreters goes too (its zygote and their processes).
        using (var removed = await _thawd.Http.DeleteAsync("v1/functions/fresh"))
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.Equal(0, _thawd.Thawd.Python.MorulaPools);
    }

    [Fact]
    public async Task Handler_errors_logs_stats_health_and_metrics()
    {
        await _thawd.DeployOkAsync("fails", "name = \"fails\"\n", ("f.py", "def f(event):\n    print('about to fail', event)\n    raise ValueError('bad input')\n"));
        using (var reply = await _thawd.InvokeAsync("fails", "\"x\""))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, reply.StatusCode);
            Assert.Equal("Unhandled", reply.Headers.GetValues("X-Thaw-Function-Error").Single());
            Assert.Equal("cold", reply.Headers.GetValues("X-Thaw-Start").Single());
            Assert.Contains("start;dur=", reply.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
            using var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
            Assert.Equal("handler_error", body.RootElement.GetProperty("code").GetString());
            Assert.Equal("ValueError", body.RootElement.GetProperty("type").GetString());
            Assert.Contains("raise ValueError", body.RootElement.GetProperty("traceback").GetString(), StringComparison.Ordinal);
            // Compiled at deploy, in the sandbox's view: the traceback names /handler, not a host path.
            Assert.Contains("File \"/handler/f.py\"", body.RootElement.GetProperty("traceback").GetString(), StringComparison.Ordinal);
        }
        string code = _thawd.Thawd.Registry.Get("fails")!.CodeDir;
        string pyc = Assert.Single(Directory.GetFiles(Path.Combine(code, "__pycache__")));
        Assert.StartsWith("f.cpython-", Path.GetFileName(pyc), StringComparison.Ordinal);
        Assert.Equal((0, 0), Thaw.Linux.Files.Owner.Get(pyc));
        Assert.Equal((0, 0), Thaw.Linux.Files.Owner.Get(code));
        string logs = await Wait.UntilAsync(async () => await _thawd.Http.GetStringAsync("v1/functions/fails/logs"), l => l.Contains("about to fail x", StringComparison.Ordinal));
        Assert.Contains("stdout: about to fail x", logs, StringComparison.Ordinal);
        Assert.Contains("handler raised ValueError: bad input", logs, StringComparison.Ordinal);

        using (var health = JsonDocument.Parse(await _thawd.Http.GetStringAsync("healthz")))
            Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        using (var stats = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/stats")))
        {
            Assert.Equal(1, stats.RootElement.GetProperty("handler_cache").GetProperty("cold_calls").GetInt32());
            Assert.True(stats.RootElement.GetProperty("pools").GetArrayLength() >= 3);
            Assert.True(stats.RootElement.GetProperty("zygotes").GetProperty("memory_bytes").GetInt64() > 0);
        }
        string metrics = await _thawd.Http.GetStringAsync("metrics");
        Assert.Contains("thaw_invocations_total{function=\"fails\",start=\"cold\",outcome=\"handler_error\"} 1", metrics, StringComparison.Ordinal);
        // Counted with thawd's start-up warm-up calls (one cold, some warm) and this test's one cold call.
        foreach (var phase in new[] { "claim", "fork", "init", "call", "total_cold" })
        {
            var count = System.Text.RegularExpressions.Regex.Match(metrics, $"thaw_phase_seconds_count\\{{phase=\"{phase}\"\\}} (\\d+)");
            Assert.True(count.Success && int.Parse(count.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 2, $"phase {phase} counted: {count.Value}");
        }
        Assert.Contains("thaw_pool_available{pool=", metrics, StringComparison.Ordinal);
        Assert.Contains("thaw_zygote_memory_bytes ", metrics, StringComparison.Ordinal);
        Assert.Contains("thaw_queue_depth{function=\"fails\"} 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routing_refusals_are_json_errors_too()
    {
        using (var noRoute = await _thawd.Http.GetAsync("v2/nothing/here"))
        {
            Assert.Equal(HttpStatusCode.NotFound, noRoute.StatusCode);
            Assert.Equal("application/json", noRoute.Content.Headers.ContentType?.MediaType);
            using var body = JsonDocument.Parse(await noRoute.Content.ReadAsStringAsync());
            Assert.Equal("not_found", body.RootElement.GetProperty("code").GetString());
            Assert.Contains("GET /v2/nothing/here", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        using (var wrongMethod = await _thawd.Http.PatchAsync("v1/functions/anything", new StringContent("{}")))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
            using var body = JsonDocument.Parse(await wrongMethod.Content.ReadAsStringAsync());
            Assert.Equal("method_not_allowed", body.RootElement.GetProperty("code").GetString());
            string error = body.RootElement.GetProperty("error").GetString()!;
            Assert.Contains("PATCH", error, StringComparison.Ordinal);
            Assert.Contains("PUT", error, StringComparison.Ordinal); // the methods it does allow
        }
        using (var getInvoke = await _thawd.Http.GetAsync("run/anything"))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, getInvoke.StatusCode);
            Assert.Equal("method_not_allowed", JsonDocument.Parse(await getInvoke.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Failed_calls_say_cold_or_warm_and_their_phases()
    {
        await _thawd.DeployOkAsync("slow", "name = \"slow\"\ntimeout = 1\n", ("f.py", "import time\ndef f(event):\n    time.sleep(30)\n"));
        using (var timedOut = await _thawd.InvokeAsync("slow", "{}"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
            Assert.True(timedOut.Headers.Contains("X-Thaw-Start"), "a timed-out call says how it started");
            Assert.Equal("cold", timedOut.Headers.GetValues("X-Thaw-Start").Single());
            Assert.Equal("1", timedOut.Headers.GetValues("X-Thaw-Version").Single());
            string timing = timedOut.Headers.GetValues("Server-Timing").Single();
            Assert.Contains("start;dur=", timing, StringComparison.Ordinal);
            Assert.Contains("total;dur=", timing, StringComparison.Ordinal);
            using var body = JsonDocument.Parse(await timedOut.Content.ReadAsStringAsync());
            Assert.Equal("timeout", body.RootElement.GetProperty("code").GetString());
            Assert.Contains("its timeout of 1s", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        await _thawd.DeployOkAsync("slow-exec", "name = \"slow-exec\"\nruntime = \"exec\"\ncommand = [\"sleep\", \"30\"]\ntimeout = 1\n");
        using (var execTimedOut = await _thawd.InvokeAsync("slow-exec", "{}"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, execTimedOut.StatusCode);
            Assert.Equal("cold", execTimedOut.Headers.GetValues("X-Thaw-Start").Single());
            Assert.Contains("call;dur=", execTimedOut.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
        }
    }
}
