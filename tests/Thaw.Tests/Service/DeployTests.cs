using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>Bad input is a clear 4xx, and nothing is half-deployed or lost.</summary>
public sealed class DeployTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.Archives.MaxArchiveBytes = 64 << 10;
        o.MaxEventBytes = 2048;
        o.Python.MinInitTimeout = TimeSpan.FromSeconds(1); // so a short timeout bounds init by itself here
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    private static byte[] Tar(params (string Name, string? Text, string? LinkTo)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
            foreach (var (name, text, link) in entries)
            {
                var entry = new PaxTarEntry(link is null ? TarEntryType.RegularFile : TarEntryType.SymbolicLink, name);
                if (link is not null)
                    entry.LinkName = link;
                else
                    entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text!));
                tar.WriteEntry(entry);
            }
        return buffer.ToArray();
    }

    private async Task<(HttpStatusCode Status, string Code, string Error)> Refused(string name, byte[] archive)
    {
        var (status, code, error, _) = await RefusedWithBody(name, archive);
        return (status, code, error);
    }

    private async Task<(HttpStatusCode Status, string Code, string Error, JsonElement Body)> RefusedWithBody(string name, byte[] archive)
    {
        using var reply = await _thawd.DeployAsync(name, archive);
        var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync()).RootElement.Clone();
        return (reply.StatusCode, body.GetProperty("code").GetString()!, body.GetProperty("error").GetString()!, body);
    }

    private void AssertNothingDeployed(string name)
    {
        Assert.Null(_thawd.Thawd.Registry.Get(name));
        Assert.False(Directory.Exists(Path.Combine(_thawd.StateDir, "functions", name)));
        string staging = Path.Combine(_thawd.StateDir, "functions", ".staging");
        Assert.True(!Directory.Exists(staging) || !Directory.EnumerateFileSystemEntries(staging).Any());
    }

    [Fact]
    public async Task Unsafe_or_invalid_archives_are_refused_and_leave_nothing()
    {
        const string toml = "name = \"bad\"\n";
        var slip = await Refused("bad", Tar(("thaw.toml", toml, null), ("../../evil.py", "x = 1", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_archive"), (slip.Status, slip.Code));
        Assert.Contains("evil.py", slip.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_thawd.StateDir, "evil.py")));

        var link = await Refused("bad", Tar(("thaw.toml", toml, null), ("passwd", null, "/etc/passwd")));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_archive"), (link.Status, link.Code));
        Assert.Contains("outside", link.Error, StringComparison.Ordinal);

        var big = new byte[200 << 10];
        Random.Shared.NextBytes(big);
        var tooLarge = await Refused("bad", Tar(("thaw.toml", toml, null), ("blob", Convert.ToBase64String(big), null)));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "too_large"), (tooLarge.Status, tooLarge.Code));

        var garbage = await Refused("bad", Encoding.UTF8.GetBytes("this is not an archive"));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_archive"), (garbage.Status, garbage.Code));

        var noManifest = await Refused("bad", Tar(("f.py", "def f(e): return e", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_manifest"), (noManifest.Status, noManifest.Code));
        Assert.Contains("no thaw.toml", noManifest.Error, StringComparison.Ordinal);

        var malformed = await Refused("bad", Tar(("thaw.toml", "name = \"bad\"\nmemory = \"lots\"\nbogus = 1\n", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_manifest"), (malformed.Status, malformed.Code));
        Assert.Contains("'memory'", malformed.Error, StringComparison.Ordinal);
        Assert.Contains("unknown key 'bogus'", malformed.Error, StringComparison.Ordinal);

        var otherName = await Refused("bad", Tar(("thaw.toml", "name = \"other\"\n", null), ("f.py", "def f(e): return e", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_manifest"), (otherName.Status, otherName.Code));

        var syntax = await Refused("bad", Tar(("thaw.toml", toml, null), ("f.py", "def f(e:\n    return e", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_handler"), (syntax.Status, syntax.Code));
        Assert.Contains("syntax", syntax.Error, StringComparison.OrdinalIgnoreCase);

        var badName = await Refused("Bad_Name", Tar(("thaw.toml", toml, null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_name"), (badName.Status, badName.Code));

        AssertNothingDeployed("bad");
        Assert.Empty(_thawd.Thawd.Spawner.Live);
    }

    [Fact]
    public async Task A_bad_redeploy_keeps_the_old_version_serving()
    {
        await _thawd.DeployOkAsync("keep", "name = \"keep\"\n", ("f.py", "def f(event):\n    return 'v1'\n"));
        var broken = await Refused("keep", Tar(("thaw.toml", "name = \"keep\"\n", null), ("f.py", "import no_such_module\ndef f(event):\n    return 'v2'\n", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_handler"), (broken.Status, broken.Code));
        Assert.Contains("no_such_module", broken.Error, StringComparison.Ordinal);

        using var reply = await _thawd.InvokeAsync("keep", "{}");
        Assert.Equal("\"v1\"", await reply.Content.ReadAsStringAsync());
        Assert.Equal(1, _thawd.Thawd.Registry.Get("keep")!.Version);
        Assert.Equal(["1"], Directory.GetDirectories(Path.Combine(_thawd.StateDir, "functions", "keep")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Bad_events_and_unknown_functions_are_4xx()
    {
        await _thawd.DeployOkAsync("echo", "name = \"echo\"\n", ("f.py", "def f(event):\n    return event\n"));
        using (var unknown = await _thawd.InvokeAsync("nobody", "{}"))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using (var notJson = await _thawd.InvokeAsync("echo", "{not json"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
            Assert.Contains("bad_event", await notJson.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var oversized = await _thawd.InvokeAsync("echo", "\"" + new string('x', 4096) + "\""))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.StatusCode);
            Assert.Contains("2048-byte limit", await oversized.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var empty = await _thawd.Http.PostAsync("v1/functions/echo/invoke", new ByteArrayContent([])))
            Assert.Equal("null", await empty.Content.ReadAsStringAsync());
        using var ok = await _thawd.InvokeAsync("echo", "[1]");
        Assert.Equal("[1]", await ok.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_refused_first_deploy_does_not_use_up_version_1()
    {
        var refused = await Refused("firstly", Tar(("thaw.toml", "name = \"firstly\"\n", null), ("f.py", "import no_such_module\n", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_handler"), (refused.Status, refused.Code));
        var dup = await Refused("firstly", Tar(("thaw.toml", "name = \"firstly\"\nmemory = \"64M\"\nmemory = 128\n", null), ("f.py", "def f(e): return e", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_manifest"), (dup.Status, dup.Code));
        Assert.Contains("line 3", dup.Error, StringComparison.Ordinal);
        Assert.Contains("`memory` is already defined", dup.Error, StringComparison.Ordinal);
        AssertNothingDeployed("firstly");

        await _thawd.DeployOkAsync("firstly", "name = \"firstly\"\n", ("f.py", "def f(event):\n    return 'v1'\n"));
        Assert.Equal(1, _thawd.Thawd.Registry.Get("firstly")!.Version);
        using (var removed = await _thawd.Http.DeleteAsync("v1/functions/firstly"))
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        await _thawd.DeployOkAsync("firstly", "name = \"firstly\"\n", ("f.py", "def f(event):\n    return 'v2'\n"));
        Assert.Equal(2, _thawd.Thawd.Registry.Get("firstly")!.Version); // never reused after a removal
    }

    [Theory]
    [InlineData("init_timeout = \"1s\"\n", "1s (its init_timeout)")]
    [InlineData("timeout = 2\n", "2s (its timeout")]
    public async Task A_hung_module_init_is_bounded_by_the_functions_init_timeout(string line, string bound)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var hung = await Refused("hangs", Tar(("thaw.toml", "name = \"hangs\"\n" + line, null), ("f.py", "import time\ntime.sleep(600)\ndef f(e): return e\n", null)));
        // Within its own bound, not thawd's 20 s ceiling (the fixture's InitTimeout) or the 30 s default.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"the deploy took {started.Elapsed}");
        Assert.Equal((HttpStatusCode.BadRequest, "init_timeout"), (hung.Status, hung.Code));
        Assert.Contains($"did not finish loading within {bound}", hung.Error, StringComparison.Ordinal);
        AssertNothingDeployed("hangs");
        await Wait.UntilAsync(() => _thawd.Thawd.Spawner.Live.Count == 0, TimeSpan.FromSeconds(30), "the hung sandbox killed");
    }

    [Fact]
    public async Task A_module_that_exits_during_init_is_the_functions_error_with_its_exit_code_and_stderr()
    {
        var exits = await RefusedWithBody("quits", Tar(("thaw.toml", "name = \"quits\"\n", null),
            ("f.py", "import os, sys\nsys.stderr.write('config missing: DB_URL\\n')\nsys.stderr.flush()\nos._exit(3)\n", null)));
        Assert.Equal((HttpStatusCode.BadRequest, "bad_handler"), (exits.Status, exits.Code));
        Assert.Contains("exited with code 3", exits.Error, StringComparison.Ordinal);
        Assert.Contains("config missing: DB_URL", exits.Body.GetProperty("traceback").GetString(), StringComparison.Ordinal);
        AssertNothingDeployed("quits");
    }

    [Fact]
    public async Task Memory_and_timeout_as_plain_integers_deploy()
    {
        await _thawd.DeployOkAsync("sam", "name = \"sam\"\nmemory = 96\ntimeout = 7\n", ("f.py", "def f(event):\n    return event\n"));
        using var described = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/functions/sam"));
        Assert.Equal(96, described.RootElement.GetProperty("memory_mb").GetInt32());
        Assert.Equal(7, described.RootElement.GetProperty("timeout_s").GetDouble());
    }
}
