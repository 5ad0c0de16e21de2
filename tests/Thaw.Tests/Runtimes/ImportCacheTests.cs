using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Tests.Support;

namespace Thaw.Tests.Runtimes;

/// <summary>
/// The zygote tree with the base image's real packages (Debian's python3-numpy and python3-pil):
/// which zygote a function forks from, how the tree learns, evicts and survives a killed zygote.
/// </summary>
public sealed class ImportCacheTests(PythonFixture fixture) : IClassFixture<PythonFixture>
{
    private static readonly TimeSpan Build = TimeSpan.FromSeconds(60);

    private (FunctionManifest, string) Numpy() => fixture.Function("name = \"np\"\n",
        ("f.py", "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n"));

    private (FunctionManifest, string) PilNumpy() => fixture.Function("name = \"pil-np\"\n",
        ("f.py", "import numpy, PIL.Image\ndef f(event):\n    return list(PIL.Image.new('L', (3, 2)).size)\n"));

    private (FunctionManifest, string) Plain() => fixture.Function("name = \"plain\"\n", ("f.py", "import json\ndef f(event):\n    return json.dumps(event)\n"));

    private PythonRuntime NewRuntime(ImportCacheOptions cache) =>
        new(fixture.Spawner, new PythonRuntimeOptions { ImportCache = cache, InitTimeout = TimeSpan.FromSeconds(30) }, NullLogger.Instance);

    /// <summary>Starts a sandbox of the function, calls it once, deletes it; returns the zygote it forked from.</summary>
    private static async Task<int> StartAndCall(PythonRuntime runtime, (FunctionManifest Manifest, string Dir) function)
    {
        await using var sandbox = await runtime.StartAsync(function.Manifest, function.Dir);
        var call = await sandbox.InvokeAsync("null"u8.ToArray(), TimeSpan.FromSeconds(30));
        Assert.True(call.Succeeded, call.Error?.ToString());
        return sandbox.ForkedFrom.Pid;
    }

    private static ImportCacheNode NodeFor(ImportCache cache, params string[] packages) =>
        cache.Nodes.Single(n => n.Packages.SetEquals(packages));

    [Fact]
    public async Task A_function_forks_from_the_deepest_zygote_whose_packages_it_all_uses()
    {
        await using var runtime = NewRuntime(new ImportCacheOptions { HotStarts = 100 });
        var cache = runtime.ImportCache!;
        await cache.SeedAsync([["numpy"], ["numpy", "PIL.Image"]]);
        var numpyNode = NodeFor(cache, "numpy");
        var both = NodeFor(cache, "numpy", "PIL");
        Assert.Same(numpyNode, both.Parent);            // {numpy, PIL} was forked from {numpy}
        Assert.Equal(["numpy", "PIL.Image"], both.Zygote.Modules);
        Assert.Empty(both.Zygote.FailedModules);

        var (np, pilnp, plain) = (Numpy(), PilNumpy(), Plain());
        int root = fixture.Spawner.Zygote.Pid;
        // Nothing learned yet: the root; then each forks from its deepest match.
        Assert.Equal(root, await StartAndCall(runtime, pilnp));
        Assert.Equal(both.Zygote.Pid, await StartAndCall(runtime, pilnp));
        Assert.Equal(root, await StartAndCall(runtime, np));
        Assert.Equal(["numpy"], cache.PackagesOf("np"));
        int got = await StartAndCall(runtime, np);
        Assert.True(numpyNode.Zygote.Pid == got, $"numpy {numpyNode.Zygote.Pid} both {both.Zygote.Pid} root {root} got {got} nodes {string.Join(";", cache.Nodes.Select(n => n.Zygote.Pid + ":" + string.Join(",", n.Packages)))}"); // never the node with PIL it does not use
        Assert.Equal(root, await StartAndCall(runtime, plain));
        Assert.Equal(root, await StartAndCall(runtime, plain));
    }

    [Fact]
    public async Task The_tree_learns_a_node_for_packages_shared_by_two_functions_and_for_a_hot_function()
    {
        await using var runtime = NewRuntime(new ImportCacheOptions { SharedBy = 2, HotStarts = 2 });
        var cache = runtime.ImportCache!;
        var (np, pilnp) = (Numpy(), PilNumpy());
        await StartAndCall(runtime, np);
        Assert.Empty(cache.Nodes);
        await StartAndCall(runtime, pilnp);             // numpy is now shared by two functions
        await Wait.UntilAsync(() => cache.Nodes.Any(n => n.Packages.SetEquals(["numpy"])), Build, "a zygote for numpy");
        await StartAndCall(runtime, pilnp);             // pil-np's second cold start: hot
        await Wait.UntilAsync(() => cache.Nodes.Any(n => n.Packages.SetEquals(["numpy", "PIL"])), Build, "a zygote for numpy+PIL");
        var both = NodeFor(cache, "numpy", "PIL");
        Assert.Same(NodeFor(cache, "numpy"), both.Parent);
        Assert.Contains("PIL.Image", both.Zygote.Modules);  // what the function really imported, not just the top level
        Assert.Equal(both.Zygote.Pid, await StartAndCall(runtime, pilnp));
    }

    [Fact]
    public async Task Idle_zygotes_are_evicted_to_fit_the_memory_budget_but_never_one_in_use_or_with_children()
    {
        var options = new ImportCacheOptions { HotStarts = 100 };
        await using var runtime = NewRuntime(options);
        var cache = runtime.ImportCache!;
        await cache.SeedAsync([["numpy"], ["numpy", "PIL.Image"]]);
        Assert.All(cache.Nodes, n => Assert.True(n.MemoryBytes > 1 << 20, $"{n.MemoryBytes} bytes"));
        var pilnp = PilNumpy();
        await StartAndCall(runtime, pilnp);
        var sandbox = await runtime.StartAsync(pilnp.Item1, pilnp.Item2);
        Assert.Equal(NodeFor(cache, "numpy", "PIL").Zygote.Pid, sandbox.ForkedFrom.Pid);

        options.MemoryBudgetBytes = 1;
        cache.Trim();
        Assert.Equal(2, cache.Nodes.Count);             // the leaf has a live sandbox; its parent has a child
        Assert.Equal(0, cache.Evictions);

        var pids = cache.Nodes.Select(n => n.Zygote.Pid).ToList();
        await sandbox.DisposeAsync();
        await Wait.UntilAsync(() => NodeFor(cache, "numpy", "PIL").Live == 0, TimeSpan.FromSeconds(10), "the lease returned");
        cache.Trim();
        Assert.Empty(cache.Nodes);                      // leaf first, then its parent
        Assert.Equal(2, cache.Evictions);
        foreach (int pid in pids)
            await Wait.UntilAsync(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10), $"evicted zygote {pid} exited");
    }

    [Fact]
    public async Task A_killed_zygote_is_dropped_its_functions_fall_back_to_the_parent_and_it_is_rebuilt()
    {
        await using var runtime = NewRuntime(new ImportCacheOptions { HotStarts = 1 });
        var cache = runtime.ImportCache!;
        var np = Numpy();
        await StartAndCall(runtime, np);
        await Wait.UntilAsync(() => cache.Nodes.Any(n => n.Packages.SetEquals(["numpy"])), Build, "a zygote for numpy");
        var node = NodeFor(cache, "numpy");
        Assert.Equal(node.Zygote.Pid, await StartAndCall(runtime, np));

        Process.GetProcessById(node.Zygote.Pid).Kill();
        await Wait.UntilAsync(() => !node.Zygote.IsAlive, TimeSpan.FromSeconds(10), "thawd saw the zygote die");
        Assert.Equal(fixture.Spawner.Zygote.Pid, await StartAndCall(runtime, np));   // the parent (root) serves meanwhile
        await Wait.UntilAsync(() => cache.Nodes.Any(n => n.Packages.SetEquals(["numpy"]) && n.Zygote.IsAlive), Build, "the numpy zygote rebuilt");
        var rebuilt = NodeFor(cache, "numpy");
        Assert.NotEqual(node.Zygote.Pid, rebuilt.Zygote.Pid);
        Assert.Equal(rebuilt.Zygote.Pid, await StartAndCall(runtime, np));
    }

    [Fact]
    public void A_seed_file_lists_one_node_per_line()
    {
        string dir = TestInstance.NewTempDir("thaw-test-seed-");
        try
        {
            string path = Path.Combine(dir, "zygotes.txt");
            File.WriteAllText(path, "# the import cache's seed\nnumpy\nnumpy, PIL.Image   # image functions\n\n");
            Assert.Equal([["numpy"], ["numpy", "PIL.Image"]], ImportCache.ReadSeed(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
