using System.Net;
using System.Text.Json;
using Thaw.Runtimes.Packages;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>A deploy with packages: resolved and installed from thawd's wheelhouse, reported, importable; a missing one is a clear 400.</summary>
public sealed class PackagesTests : IAsyncLifetime
{
    private readonly string _wheelhouse = TestInstance.NewTempDir("thaw-test-wheels-");
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync()
    {
        WheelBuilder.Build(_wheelhouse, "thawsvc-alpha", "1.0", ["thawsvc-beta>=2"], ("thawsvc_alpha/__init__.py", "import thawsvc_beta\nVALUE = 'alpha on ' + thawsvc_beta.VALUE\n"));
        WheelBuilder.Build(_wheelhouse, "thawsvc-beta", "2.0", [], ("thawsvc_beta.py", "VALUE = 'beta-2.0'\n"));
        _thawd = await ThawdInstance.StartAsync(o => o.Wheelhouse = _wheelhouse);
    }

    public async Task DisposeAsync()
    {
        await _thawd.DisposeAsync();
        Directory.Delete(_wheelhouse, recursive: true);
    }

    [Fact]
    public async Task Packages_are_installed_at_deploy_reported_and_importable()
    {
        var dir = _thawd.FunctionDir("name = \"withpkg\"\npackages = [\"thawsvc-alpha==1.0\"]\n",
            ("f.py", "import thawsvc_alpha\ndef f(event):\n    return thawsvc_alpha.VALUE\n"));
        using (var deployed = await _thawd.DeployAsync("withpkg", ThawdInstance.TarGz(dir)))
        {
            string text = await deployed.Content.ReadAsStringAsync();
            Assert.True(deployed.StatusCode == HttpStatusCode.Created, text);
            using var body = JsonDocument.Parse(text);
            var installed = body.RootElement.GetProperty("installed").EnumerateArray().Select(e => e.GetString()!).ToList();
            Assert.Equal(2, installed.Count); // alpha and, resolved from its metadata, beta
            Assert.Contains(installed, i => i.Contains("alpha", StringComparison.Ordinal) && i.EndsWith("-1.0", StringComparison.Ordinal));
            Assert.Contains(installed, i => i.Contains("beta", StringComparison.Ordinal) && i.EndsWith("-2.0", StringComparison.Ordinal));
        }
        using var reply = await _thawd.InvokeAsync("withpkg", "{}");
        Assert.Equal("\"alpha on beta-2.0\"", await reply.Content.ReadAsStringAsync());

        var missing = _thawd.FunctionDir("name = \"nopkg\"\npackages = [\"thawsvc-gamma\"]\n", ("f.py", "def f(event):\n    return 1\n"));
        using var refused = await _thawd.DeployAsync("nopkg", ThawdInstance.TarGz(missing));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("bad_packages", error.RootElement.GetProperty("code").GetString());
        Assert.Contains("thawsvc-gamma", error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Null(_thawd.Thawd.Registry.Get("nopkg"));
    }
}
