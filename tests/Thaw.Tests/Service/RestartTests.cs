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
            await thawd.DeployOkAsync("lasting", "name = \"lasting\"\n", ("f.py", "def f(event):\n    return 'before'\n"));
            using (var before = await thawd.InvokeAsync("lasting", "{}"))
                Assert.Equal("\"before\"", await before.Content.ReadAsStringAsync());

            await thawd.RestartAsync();

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
        }
        finally
        {
            await thawd.DisposeAsync();
        }
    }
}
