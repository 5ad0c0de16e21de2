using System.Text;
using System.Text.Json;
using Thaw.Runtimes.Python;
using Thaw.Tests.Support;

namespace Thaw.Tests.Runtimes;

/// <summary>Python functions end to end: a real zygote forks real sandboxes that import real handler modules.</summary>
public sealed class PythonRuntimeTests(PythonFixture fixture) : IClassFixture<PythonFixture>
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private static ReadOnlyMemory<byte> Json(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public async Task A_handler_runs_under_the_sandboxes_seccomp_filter()
    {
        // io_uring_setup(1, NULL): EFAULT wherever it reaches the kernel; EPERM from the filter.
        var (manifest, dir) = fixture.Function("""
            name = "seccomp-probe"
            handler = "probe.handle"
            """,
            ("probe.py", """
            import ctypes
            def handle(event):
                libc = ctypes.CDLL(None, use_errno=True)
                r = libc.syscall(425, 1, None)
                status = open("/proc/self/status").read()
                return {"seccomp": status.split("Seccomp:")[1].split()[0], "io_uring": [r, ctypes.get_errno()]}
            """));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        var call = await sandbox.InvokeAsync(Json("{}"), CallTimeout);

        Assert.True(call.Succeeded, call.Error?.ToString());
        Assert.Equal("2", call.Result!.Value.GetProperty("seccomp").GetString());
        Assert.Equal("[-1,1]", call.Result!.Value.GetProperty("io_uring").GetRawText().Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_aws_style_handler_gets_its_context_and_prints_to_the_functions_log()
    {
        var (manifest, dir) = fixture.Function("""
            name = "aws-hello"
            handler = "lambda_function.lambda_handler"
            memory = "96M"
            [environment]
            GREETING = "hej"
            """,
            ("lambda_function.py", """
            import os
            def lambda_handler(event, context):
                print("called with", event["who"])
                return {"msg": os.environ["GREETING"] + " " + event["who"], "fn": context.function_name,
                        "mb": context.memory_limit_in_mb, "rid": context.aws_request_id,
                        "pid": os.getpid(), "uid": os.getuid(), "cwd": os.getcwd()}
            """));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        var call = await sandbox.InvokeAsync(Json("""{"who":"world"}"""), CallTimeout);

        Assert.True(call.Succeeded, call.Error?.ToString());
        var result = call.Result!.Value;
        Assert.Equal("hej world", result.GetProperty("msg").GetString());
        Assert.Equal("aws-hello", result.GetProperty("fn").GetString());
        Assert.Equal(96, result.GetProperty("mb").GetInt32());
        Assert.StartsWith(sandbox.Sandbox.Id + "-", result.GetProperty("rid").GetString(), StringComparison.Ordinal);
        // Forked as pid 1 of its own pid namespace, as nobody, in its code dir.
        Assert.Equal(1, result.GetProperty("pid").GetInt32());
        Assert.Equal(65534, result.GetProperty("uid").GetInt32());
        Assert.Equal("/handler", result.GetProperty("cwd").GetString());
        await Wait.UntilAsync(() => sandbox.Sandbox.Stdout.ToString().Contains("called with world", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "print() reached the log");
    }

    [Fact]
    public async Task A_sandbox_from_a_parked_child_holds_only_its_stdio_and_invoke_socket()
    {
        // Parked children keep a /proc directory fd (to pre-fault their pages) until they are claimed.
        var (manifest, dir) = fixture.Function("name = \"fds\"\n",
            ("f.py", "import os\ndef f(event):\n    fds = {}\n    for fd in os.listdir('/proc/self/fd'):\n        try:\n            fds[fd] = os.readlink('/proc/self/fd/' + fd)\n        except OSError:\n            pass  # listdir's own, closed by now\n    return fds\n"));
        for (int i = 0; i < 2; i++) // the first may be forked; the second comes from a parked child
        {
            await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
            var fds = (await sandbox.InvokeAsync(Json("null"), CallTimeout)).Result!.Value.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            Assert.Equal([0, 1, 2], fds.Keys.Select(int.Parse).Order().Take(3));
            Assert.Equal(4, fds.Count); // 0-2 and the invoke socket
            Assert.DoesNotContain(fds.Values, target => target == "/proc" || target!.StartsWith("/proc/", StringComparison.Ordinal) && !target.Contains("/fd", StringComparison.Ordinal));
            await Task.Delay(300);
        }
    }

    [Fact]
    public async Task A_first_call_sent_ahead_is_answered_and_later_calls_follow_it()
    {
        var (manifest, dir) = fixture.Function("name = \"ahead\"\n", ("f.py", "import os\ndef f(event, context):\n    return [event, context.aws_request_id]\n"));
        var first = Json("\"one\"");
        await using (var sandbox = await fixture.Runtime.StartAsync(manifest, dir, first: new FirstCall(first, CallTimeout)))
        {
            // The same memory: only the reply is read (the runtime answered it once its handler loaded).
            var call = (await sandbox.InvokeAsync(first, CallTimeout)).Result!.Value;
            Assert.Equal("one", call[0].GetString());
            Assert.Equal(sandbox.Sandbox.Id + "-1", call[1].GetString());
            var second = (await sandbox.InvokeAsync(Json("\"two\""), CallTimeout)).Result!.Value;
            Assert.Equal(["two", sandbox.Sandbox.Id + "-2"], second.EnumerateArray().Select(e => e.GetString()));
        }
        await using (var sandbox = await fixture.Runtime.StartAsync(manifest, dir, first: new FirstCall(Json("\"unused\""), CallTimeout)))
        {
            // Invoked with another event: the reply to the one sent ahead is skipped, not mistaken for this one's.
            var call = (await sandbox.InvokeAsync(Json("\"other\""), CallTimeout)).Result!.Value;
            Assert.Equal(["other", sandbox.Sandbox.Id + "-2"], call.EnumerateArray().Select(e => e.GetString()));
        }
    }

    [Fact]
    public async Task A_handler_that_cannot_load_is_reported_even_with_a_call_sent_ahead()
    {
        var (manifest, dir) = fixture.Function("name = \"ahead-broken\"\n", ("f.py", "raise RuntimeError('no init for you')\n"));
        var error = await Assert.ThrowsAsync<FunctionStartException>(() => fixture.Runtime.StartAsync(manifest, dir, first: new FirstCall(Json("1"), CallTimeout)));
        Assert.Equal("init", error.Phase);
        Assert.Contains("no init for you", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sebs_and_openlambda_style_handlers_run_unmodified()
    {
        var (sebs, sebsDir) = fixture.Function("name = \"sebs\"\nhandler = \"function.handler\"\n",
            ("function.py", "def handler(event):\n    return {'result': event['n'] * 2}\n"));
        var (ol, olDir) = fixture.Function("name = \"ol\"\n", ("f.py", "def f(event):\n    return 'hello ' + event\n"));
        await using (var sandbox = await fixture.Runtime.StartAsync(sebs, sebsDir))
            Assert.Equal(42, (await sandbox.InvokeAsync(Json("""{"n":21}"""), CallTimeout)).Result!.Value.GetProperty("result").GetInt32());
        await using (var sandbox = await fixture.Runtime.StartAsync(ol, olDir))
            Assert.Equal("hello thaw", (await sandbox.InvokeAsync(Json("\"thaw\""), CallTimeout)).Result!.Value.GetString());
    }

    [Fact]
    public async Task Module_init_runs_once_per_sandbox_and_calls_are_served_in_turn()
    {
        var (manifest, dir) = fixture.Function("name = \"counter\"\nhandler = \"main.handler\"\n",
            ("main.py", "import time\nloaded_at = time.time()\ncalls = 0\ndef handler(event):\n    global calls\n    calls += 1\n    return [calls, loaded_at]\n"));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => sandbox.InvokeAsync(Json("null"), CallTimeout)));
        var counts = results.Select(r => r.Result!.Value[0].GetInt32()).Order().ToArray();
        Assert.Equal([1, 2, 3, 4, 5], counts);
        Assert.Single(results.Select(r => r.Result!.Value[1].GetDouble()).Distinct());
        Assert.True(sandbox.InitMs > 0);
    }

    [Fact]
    public async Task An_exception_comes_back_with_its_traceback_and_the_sandbox_keeps_serving()
    {
        var (manifest, dir) = fixture.Function("name = \"boom\"\nhandler = \"main.handler\"\n",
            ("main.py", "def check(x):\n    if x < 0:\n        raise ValueError(f'negative: {x}')\n    return x\ndef handler(event):\n    return check(event)\n"));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        var failed = await sandbox.InvokeAsync(Json("-3"), CallTimeout);
        Assert.False(failed.Succeeded);
        Assert.Equal("ValueError", failed.Error!.Type);
        Assert.Equal("negative: -3", failed.Error.Message);
        Assert.Contains("in check", failed.Error.Traceback, StringComparison.Ordinal);
        Assert.Equal(4, (await sandbox.InvokeAsync(Json("4"), CallTimeout)).Result!.Value.GetInt32());
    }

    [Theory]
    [InlineData("def handler(event):\n    return (\n", "syntax", "line 2")]
    [InlineData("import no_such_package_here\n", "import", "no_such_package_here")]
    [InlineData("x = 1\n", "handler", "has no function 'handler'")]
    [InlineData("raise KeyError('SECRET_NOT_SET')\n", "init", "SECRET_NOT_SET")]
    public async Task A_handler_that_cannot_load_is_a_clear_error_and_leaves_nothing_running(string code, string phase, string needle)
    {
        var (manifest, dir) = fixture.Function("name = \"broken\"\nhandler = \"main.handler\"\n", ("main.py", code));
        int before = fixture.Spawner.Live.Count;
        var e = await Assert.ThrowsAsync<FunctionStartException>(() => fixture.Runtime.StartAsync(manifest, dir));
        Assert.Equal(phase, e.Phase);
        Assert.Contains(needle, e.Message + e.Traceback, StringComparison.Ordinal);
        Assert.Equal(before, fixture.Spawner.Live.Count);
    }

    [Fact]
    public async Task A_call_over_its_timeout_kills_the_sandbox()
    {
        var (manifest, dir) = fixture.Function("name = \"slow\"\nhandler = \"main.handler\"\n",
            ("main.py", "import time\ndef handler(event):\n    time.sleep(event)\n    return 'done'\n"));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        Assert.Equal("done", (await sandbox.InvokeAsync(Json("0"), CallTimeout)).Result!.Value.GetString());
        await Assert.ThrowsAsync<TimeoutException>(() => sandbox.InvokeAsync(Json("30"), TimeSpan.FromMilliseconds(300)));
        var exit = await sandbox.Sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(9, exit.Signal);
        Assert.False(sandbox.IsServing);
        await Assert.ThrowsAsync<SandboxGoneException>(() => sandbox.InvokeAsync(Json("0"), CallTimeout));
    }

    [Fact]
    public async Task Running_out_of_memory_names_the_limit()
    {
        var (manifest, dir) = fixture.Function("name = \"hog\"\nhandler = \"main.handler\"\nmemory = \"48M\"\n",
            ("main.py", "def handler(event):\n    blocks = []\n    while True:\n        blocks.append(bytearray(8 << 20))\n"));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        var e = await Assert.ThrowsAsync<SandboxGoneException>(() => sandbox.InvokeAsync(Json("null"), CallTimeout));
        Assert.Contains("out of memory (limit 48 MiB)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Large_events_and_results_cross_the_invoke_socket_intact()
    {
        var (manifest, dir) = fixture.Function("name = \"echo\"\nhandler = \"main.handler\"\n",
            ("main.py", "def handler(event):\n    return {'len': len(event), 'echo': event}\n"));
        await using var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        string big = new('x', 3 << 20);
        var call = await sandbox.InvokeAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(big)), CallTimeout);
        Assert.Equal(big.Length, call.Result!.Value.GetProperty("len").GetInt32());
        Assert.Equal(big, call.Result.Value.GetProperty("echo").GetString());
    }

    [Fact]
    public async Task A_deleted_sandbox_returns_everything_to_the_pools()
    {
        var (manifest, dir) = fixture.Function("name = \"bye\"\n", ("f.py", "def f(event):\n    return event\n"));
        var sandbox = await fixture.Runtime.StartAsync(manifest, dir);
        string cgroup = sandbox.Sandbox.Cgroup.RelativePath;
        await sandbox.DisposeAsync();
        var exit = await sandbox.Sandbox.Exited;
        Assert.Equal(0, exit.ExitCode); // the runtime saw its socket close and exited on its own
        Assert.DoesNotContain(fixture.Spawner.Live, s => s.Id == sandbox.Sandbox.Id);
        Assert.NotNull(cgroup);
    }
}
