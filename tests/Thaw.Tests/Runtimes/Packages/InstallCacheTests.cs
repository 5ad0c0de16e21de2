using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Packages;
using Thaw.Runtimes.Python;
using Thaw.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Thaw.Tests.Runtimes.Packages;

/// <summary>
/// The install cache with wheels built here (no index is reachable): resolved from their metadata,
/// installed once per version by pip in a sandbox, shared read-only by every function that needs them.
/// </summary>
public sealed class InstallCacheTests(PythonFixture fixture) : IClassFixture<PythonFixture>, IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-pkgs-");

    private PythonRuntime Runtime(out string wheelhouse)
    {
        wheelhouse = Path.Combine(_dir, "wheelhouse");
        Directory.CreateDirectory(wheelhouse);
        WheelBuilder.Build(wheelhouse, "thawtest-alpha", "1.0", ["thawtest-beta>=2"], ("thawtest_alpha/__init__.py", "import thawtest_beta\nVALUE = 'alpha-1.0 on ' + thawtest_beta.VALUE\n"));
        WheelBuilder.Build(wheelhouse, "thawtest-beta", "2.0", [], ("thawtest_beta.py", "VALUE = 'beta-2.0'\n"));
        WheelBuilder.Build(wheelhouse, "thawtest-beta", "3.0", [], ("thawtest_beta.py", "VALUE = 'beta-3.0'\n"));
        WheelBuilder.Build(wheelhouse, "thawtest-beta", "1.0", [], ("thawtest_beta.py", "VALUE = 'beta-1.0'\n"));
        return new PythonRuntime(fixture.Spawner, new PythonRuntimeOptions
        {
            ImportCache = null,
            Packages = new InstallCacheOptions { Root = Path.Combine(_dir, "cache"), Wheelhouse = wheelhouse },
        }, NullLogger.Instance);
    }

    private async Task<string> Call(PythonRuntime runtime, (FunctionManifest Manifest, string Dir) function)
    {
        await using var sandbox = await runtime.StartAsync(function.Manifest, function.Dir);
        var call = await sandbox.InvokeAsync("null"u8.ToArray(), TimeSpan.FromSeconds(30));
        Assert.True(call.Succeeded, call.Error?.ToString());
        return call.Result!.Value.GetString()!;
    }

    [Fact]
    public async Task The_closure_is_installed_once_per_version_and_shared_by_functions()
    {
        await using var runtime = Runtime(out _);
        var one = fixture.Function("name = \"uses-alpha\"\npackages = [\"thawtest-alpha==1.0\"]\n",
            ("f.py", "import thawtest_alpha\ndef f(event):\n    return thawtest_alpha.VALUE + ' from ' + thawtest_alpha.__file__\n"));
        var two = fixture.Function("name = \"also-alpha\"\npackages = [\"thawtest-alpha\"]\n",
            ("f.py", "import thawtest_alpha\ndef f(event):\n    return thawtest_alpha.VALUE\n"));
        string reply = await Call(runtime, one);
        Assert.StartsWith("alpha-1.0 on beta-3.0 from /packages/thawtest-alpha-1.0/", reply, StringComparison.Ordinal); // highest beta that fits >=2
        Assert.Equal(2, runtime.InstallCache!.Installed);
        Assert.Equal("alpha-1.0 on beta-3.0", await Call(runtime, two));
        Assert.Equal(2, runtime.InstallCache.Installed);            // shared, not installed again
        string beta = Path.Combine(_dir, "cache", "thawtest-beta-3.0");
        Assert.True(Directory.Exists(beta));
        Assert.All(Directory.EnumerateFileSystemEntries(beta, "*", SearchOption.AllDirectories), e => Assert.Equal((0, 0), Thaw.Linux.Files.Owner.Get(e))); // root's, not the installer's
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_dir, "cache"), ".staging-*"));
    }

    [Fact]
    public async Task Installed_packages_are_read_only_in_the_sandbox()
    {
        await using var runtime = Runtime(out _);
        var fn = fixture.Function("name = \"writer\"\npackages = [\"thawtest-beta==2.0\"]\n",
            ("f.py", "import thawtest_beta\ndef f(event):\n    try:\n        open(thawtest_beta.__file__, 'a').write('x')\n        return 'wrote'\n    except OSError as e:\n        return type(e).__name__\n"));
        // Root's files (EACCES) on a read-only bind (EROFS): either way, not writable.
        Assert.Contains(await Call(runtime, fn), new[] { "PermissionError", "OSError" });
    }

    [Theory]
    [InlineData("[\"thawtest-alpha==1.0\", \"thawtest-beta==1.0\"]", "version conflict on thawtest-beta")]
    [InlineData("[\"thawtest-nope\"]", "no such package")]
    [InlineData("[\"thawtest-beta==9.9\"]", "available: ")]
    public async Task Bad_requirements_are_refused_at_start_naming_the_package_and_install_nothing(string packages, string needle)
    {
        await using var runtime = Runtime(out _);
        var fn = fixture.Function($"name = \"bad-pkgs\"\npackages = {packages}\n", ("f.py", "def f(event):\n    return 1\n"));
        int live = fixture.Spawner.Live.Count;
        var e = await Assert.ThrowsAsync<FunctionStartException>(() => runtime.StartAsync(fn.Manifest, fn.Dir));
        Assert.Equal("packages", e.Phase);
        Assert.Contains(needle, e.Message, StringComparison.Ordinal);
        Assert.Equal(0, runtime.InstallCache!.Installed);
        Assert.Equal(live, fixture.Spawner.Live.Count);
    }

    [Fact]
    public async Task The_import_cache_pre_imports_installed_packages_keyed_by_their_version()
    {
        string cache = Path.Combine(_dir, "cache");
        Directory.CreateDirectory(cache);
        string wheelhouse = Path.Combine(_dir, "wheelhouse");
        Directory.CreateDirectory(wheelhouse);
        WheelBuilder.Build(wheelhouse, "thawtest-gamma", "1.0", [], ("thawtest_gamma.py", "import os\nLOADED_IN = os.getpid()\n"));
        // Zygotes see the install cache at /packages, as the sandboxes do.
        await using var spawner = new Thaw.Sandboxes.SandboxSpawner(fixture.Host,
            new Thaw.Sandboxes.SandboxOptions { Zygote = new Thaw.Sandboxes.Zygotes.ZygoteOptions { PackagesDir = cache } }, NullLogger.Instance);
        await using var runtime = new PythonRuntime(spawner, new PythonRuntimeOptions
        {
            ImportCache = new ImportCacheOptions { HotStarts = 100 },
            Packages = new InstallCacheOptions { Root = cache, Wheelhouse = wheelhouse },
        }, NullLogger.Instance);
        var fn = fixture.Function("name = \"uses-gamma\"\npackages = [\"thawtest-gamma==1.0\"]\n",
            ("f.py", "import os, thawtest_gamma\ndef f(event):\n    return [thawtest_gamma.LOADED_IN, os.getpid()]\n"));

        Assert.Equal("[1,1]", await CallRaw(runtime, fn));            // first start: imported by the sandbox (pid 1)
        await runtime.ImportCache!.PrepareAsync("uses-gamma");
        var node = Assert.Single(runtime.ImportCache.Nodes);
        Assert.Equal(["/packages/thawtest-gamma-1.0:thawtest_gamma"], node.Packages);
        Assert.Empty(node.Zygote.FailedModules);
        Assert.Equal($"[{node.Zygote.Pid},1]", await CallRaw(runtime, fn)); // imported by the zygote, before the fork
    }

    [Fact]
    public async Task Packages_come_from_a_pip_index_too_and_only_the_chosen_wheel_is_downloaded()
    {
        // A PEP 503 index on loopback, as a devpi or an internal mirror would serve it.
        string site = Path.Combine(_dir, "site");
        string files = Path.Combine(site, "files");
        Directory.CreateDirectory(files);
        string[] wheels =
        [
            WheelBuilder.Build(files, "thawtest-delta", "1.0", ["thawtest-epsilon"], ("thawtest_delta.py", "import thawtest_epsilon\nVALUE = 'delta-1.0 + ' + thawtest_epsilon.VALUE\n")),
            WheelBuilder.Build(files, "thawtest-delta", "0.9", [], ("thawtest_delta.py", "VALUE = 'delta-0.9'\n")),
            WheelBuilder.Build(files, "thawtest-epsilon", "2.1", [], ("thawtest_epsilon.py", "VALUE = 'epsilon-2.1'\n")),
        ];
        foreach (var project in new[] { "thawtest-delta", "thawtest-epsilon" })
        {
            Directory.CreateDirectory(Path.Combine(site, "simple", project));
            File.WriteAllText(Path.Combine(site, "simple", project, "index.html"), "<html><body>" +
                string.Concat(wheels.Select(Path.GetFileName).Where(w => w!.StartsWith(project.Replace('-', '_') + "-", StringComparison.Ordinal))
                    .Select(w => $"<a href=\"../../files/{w}#sha256=x\">{w}</a>\n")) + "</body></html>");
        }
        using var server = new System.Diagnostics.Process { StartInfo = new("/usr/bin/python3", ["-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory", site]) { RedirectStandardOutput = true, RedirectStandardError = true } };
        server.Start();
        try
        {
            string banner = (await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!; // "Serving HTTP on 127.0.0.1 port N ..."
            string port = banner.Split(" port ")[1].Split(' ')[0];
            await using var runtime = new PythonRuntime(fixture.Spawner, new PythonRuntimeOptions
            {
                ImportCache = null,
                Packages = new InstallCacheOptions { Root = Path.Combine(_dir, "cache"), IndexUrl = $"http://127.0.0.1:{port}/simple/" },
            }, NullLogger.Instance);
            var fn = fixture.Function("name = \"uses-delta\"\npackages = [\"thawtest-delta\"]\n",
                ("f.py", "import thawtest_delta\ndef f(event):\n    return thawtest_delta.VALUE\n"));
            Assert.Equal("\"delta-1.0 + epsilon-2.1\"", await CallRaw(runtime, fn));
            Assert.Equal(2, runtime.InstallCache!.Installed);
            var downloaded = Directory.GetFiles(Path.Combine(_dir, "cache", ".downloads")).Select(f => Path.GetFileName(f)!).Order().ToArray();
            Assert.Equal(["thawtest_delta-1.0-py3-none-any.whl", "thawtest_epsilon-2.1-py3-none-any.whl"], downloaded); // not delta 0.9
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    private static async Task<string> CallRaw(PythonRuntime runtime, (FunctionManifest Manifest, string Dir) function)
    {
        await using var sandbox = await runtime.StartAsync(function.Manifest, function.Dir);
        var call = await sandbox.InvokeAsync("null"u8.ToArray(), TimeSpan.FromSeconds(30));
        Assert.True(call.Succeeded, call.Error?.ToString());
        return call.Result!.Value.GetRawText();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
