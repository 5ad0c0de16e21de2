using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Runtimes;

/// <summary>Pools, a spawner with its zygote and the Python runtime, shared by a test class (instance prefix thawp).</summary>
public sealed class PythonFixture : IAsyncLifetime
{
    private readonly TestInstance _instance = new("thawp");
    private readonly List<string> _dirs = [];

    public ResourceHost Host { get; private set; } = null!;

    public SandboxSpawner Spawner { get; private set; } = null!;

    public PythonRuntime Runtime { get; private set; } = null!;

    /// <summary>The import cache the runtime gets (a subclass fixture may change it).</summary>
    public ImportCacheOptions? CacheOptions { get; init; } = new();

    public Task InitializeAsync()
    {
        var options = new ThawOptions
        {
            Name = _instance.Naming.Name,
            StateDir = _instance.Naming.StateDir,
            Netns = new NetnsPoolOptions { Size = 2 },
            Cgroups = new CgroupPoolOptions { Size = 2 },
            Roots = new RootPoolOptions { Size = 2 },
        };
        Host = ResourceHost.Start(options, NullLogger.Instance);
        Spawner = new SandboxSpawner(Host, new SandboxOptions { LogLimitBytes = 64 << 10 }, NullLogger.Instance);
        Runtime = new PythonRuntime(Spawner, new PythonRuntimeOptions { InitTimeout = TimeSpan.FromSeconds(20), ImportCache = CacheOptions }, NullLogger.Instance);
        return Task.CompletedTask;
    }

    /// <summary>Writes a function directory (thaw.toml and code) and returns it with its manifest.</summary>
    public (FunctionManifest Manifest, string Dir) Function(string toml, params (string Name, string Text)[] files)
    {
        string dir = TestInstance.NewTempDir("thaw-test-fn-");
        _dirs.Add(dir);
        File.WriteAllText(Path.Combine(dir, FunctionManifest.FileName), toml);
        foreach (var (name, text) in files)
            File.WriteAllText(Path.Combine(dir, name), text.Replace("\r", "", StringComparison.Ordinal));
        return (FunctionManifest.Load(dir), dir);
    }

    public async Task DisposeAsync()
    {
        await Runtime.DisposeAsync();
        await Spawner.DisposeAsync();
        Host.Dispose();
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        foreach (var dir in _dirs)
            Directory.Delete(dir, recursive: true);
        _instance.Dispose();
    }
}
