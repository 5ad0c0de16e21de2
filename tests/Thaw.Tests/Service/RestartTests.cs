using System.Net;

namespace Thaw.Tests.Service;

/// <summary>The registry outlives thawd: functions, versions and code are there after a restart.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task Functions_survive_a_restart_and_versions_keep_counting()
    {
        var thawd = await ThawdInstance.StartAsync();
        try
        {
            await thawd.DeployOkAsync("lasting", "name = \"lasting\"\n", ("f.py", "def f(event):\n    print('said before the restart')\n    return 'before'\n"));
            using (var before = await thawd.InvokeAsync("lasting", "{}"))
                Assert.Equal("\"before\"", await before.Content.ReadAsStringAsync());
            await Thaw.Tests.Support.Wait.UntilAsync(() => thawd.Http.GetStringAsync("v1/functions/lasting/logs"), l => l.Contains("said before the restart", StringComparison.Ordinal));
            await thawd.DeployOkAsync("program", "name = \"program\"\nruntime = \"exec\"\ncommand = [\"cat\"]\n");

            await thawd.RestartAsync();

            // Its log too: `thaw logs` after a restart shows what the function said before it.
            Assert.Contains("v1 stdout: said before the restart", await thawd.Http.GetStringAsync("v1/functions/lasting/logs"), StringComparison.Ordinal);

            using (var program = await thawd.InvokeAsync("program", "[1, 2]"))
                Assert.Equal("[1,2]", await program.Content.ReadAsStringAsync()); // an exec function too

            using (var after = await thawd.InvokeAsync("lasting", "{}"))
            {
                Assert.Equal(HttpStatusCode.OK, after.StatusCode);
                Assert.Equal("\"before\"", await after.Content.ReadAsStringAsync());
                Assert.Equal("cold", after.Headers.GetValues("X-Thaw-Start").Single());
            }
            await thawd.DeployOkAsync("lasting", "name = \"lasting\"\n", ("f.py", "def f(event):\n    return 'after'\n"));
            Assert.Equal(2, thawd.Thawd.Registry.Get("lasting")!.Version);
            using var redeployed = await thawd.InvokeAsync("lasting", "{}");
            Assert.Equal("\"after\"", await redeployed.Content.ReadAsStringAsync());

            using (var removed = await thawd.Http.DeleteAsync("v1/functions/lasting"))
                Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
            Assert.False(File.Exists(Path.Combine(thawd.StateDir, "logs", "lasting.log")), "a removed function's log goes with it");

            // A function's zygote is rebuilt after a restart from what its deploy saw it import.
            await thawd.DeployOkAsync("numeric", "name = \"numeric\"\n", ("f.py", "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n"));
            await thawd.RestartAsync();
            await Thaw.Tests.Support.Wait.UntilAsync(() => thawd.Thawd.Python.ImportCache!.Nodes.Any(n => n.Packages.Contains("numpy")), TimeSpan.FromSeconds(30), "the numpy zygote rebuilt");
            using var numeric = await thawd.InvokeAsync("numeric", "{}");
            Assert.Equal("6", await numeric.Content.ReadAsStringAsync());
            Assert.Equal("numpy", numeric.Headers.GetValues("X-Thaw-Zygote").Single());
        }
        finally
        {
            await thawd.DisposeAsync();
        }
    }
}
