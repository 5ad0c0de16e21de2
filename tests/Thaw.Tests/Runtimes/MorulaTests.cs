using Thaw.Tests.Support;

namespace Thaw.Tests.Runtimes;

/// <summary>
/// Morula (isolation = "fresh"): sandboxes are exec'd interpreters with their own address space
/// layout; forked siblings share their zygote's. Compared through /proc/self/maps, as an attacker would.
/// </summary>
public sealed class MorulaTests(PythonFixture fixture) : IClassFixture<PythonFixture>
{
    private const string Maps = "def f(event):\n    for line in open('/proc/self/maps'):\n        if 'libc' in line:\n            return line.split('-')[0]\n";

    private async Task<(string Libc, Thaw.Sandboxes.Zygotes.Zygote From)> LibcOf((Thaw.Runtimes.Functions.FunctionManifest Manifest, string Dir) function)
    {
        await using var sandbox = await fixture.Runtime.StartAsync(function.Manifest, function.Dir);
        var call = await sandbox.InvokeAsync("null"u8.ToArray(), TimeSpan.FromSeconds(30));
        Assert.True(call.Succeeded, call.Error?.ToString());
        return (call.Result!.Value.GetRawText(), sandbox.ForkedFrom);
    }

    [Fact]
    public async Task Fresh_sandboxes_have_distinct_aslr_bases_while_forked_siblings_share_them()
    {
        var fresh = fixture.Function("name = \"morula\"\nisolation = \"fresh\"\n", ("f.py", Maps));
        var forked = fixture.Function("name = \"forked\"\n", ("f.py", Maps));
        var (a, fromA) = await LibcOf(fresh);
        var (b, _) = await LibcOf(fresh);
        Assert.True(fromA.IsFresh);
        Assert.NotEqual(a, b);
        var (c, fromC) = await LibcOf(forked);
        var (d, _) = await LibcOf(forked);
        Assert.False(fromC.IsFresh);
        Assert.Equal(c, d);
    }

    [Fact]
    public async Task A_fresh_functions_interpreters_learn_to_import_its_packages()
    {
        // A fresh interpreter imports numpy itself: seconds on a slow machine (the cgroup v2 VM).
        var fresh = fixture.Function("name = \"morula-np\"\nisolation = \"fresh\"\ninit_timeout = \"120s\"\n", ("f.py", "import numpy\ndef f(event):\n    return int(numpy.ones(2).sum())\n"));
        var (_, first) = await LibcOf(fresh);
        Assert.DoesNotContain("numpy", first.Modules);
        var (_, next) = await LibcOf(fresh);                 // a new pool, whose interpreters import numpy
        Assert.True(next.IsFresh);
        Assert.Contains("numpy", next.Modules);
        await Wait.UntilAsync(() => !first.IsAlive, TimeSpan.FromSeconds(10), "the old pool's zygote retired once its sandbox was gone");
    }
}
