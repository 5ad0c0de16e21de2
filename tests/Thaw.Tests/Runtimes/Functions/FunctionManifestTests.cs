using Thaw.Runtimes.Functions;

namespace Thaw.Tests.Runtimes.Functions;

public sealed class FunctionManifestTests
{
    [Fact]
    public void A_full_manifest_is_read_field_by_field()
    {
        var m = FunctionManifest.Parse("""
            name = "image-resize"
            runtime = "python"
            handler = "main.handler"
            memory = "256M"
            timeout = "5s"
            concurrency = 4
            packages = ["numpy", "pillow==10.0.1"]
            isolation = "fresh"
            [environment]
            SIZE = "128"
            """);
        Assert.Equal("image-resize", m.Name);
        Assert.Equal("main.handler", m.Handler);
        Assert.Equal(256L << 20, m.MemoryBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), m.Timeout);
        Assert.Equal(4, m.Concurrency);
        Assert.Equal(["numpy", "pillow==10.0.1"], m.Packages);
        Assert.Equal(FunctionIsolation.Fresh, m.Isolation);
        Assert.Equal("128", m.Environment["SIZE"]);
    }

    [Fact]
    public void Defaults_are_openlambda_style_with_sane_limits()
    {
        var m = FunctionManifest.Parse("name = \"hello\"");
        Assert.Equal(("python", "f.f", FunctionIsolation.Fork), (m.Runtime, m.Handler, m.Isolation));
        Assert.Equal(128L << 20, m.MemoryBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), m.Timeout);
        Assert.Empty(m.Packages);
    }

    [Fact]
    public void Every_problem_is_named_at_once()
    {
        var e = Assert.Throws<ManifestException>(() => FunctionManifest.Parse("""
            name = "Bad_Name"
            handler = "nodot"
            memory = "lots"
            concurrency = 0
            packages = ["numpy; rm -rf /"]
            isolation = "vm"
            colour = "blue"
            [environment]
            1BAD = "x"
            """));
        foreach (var needle in new[] { "name 'Bad_Name'", "handler 'nodot'", "'memory'", "concurrency 0", "package 'numpy; rm -rf /'", "isolation 'vm'", "unknown key 'colour'", "environment name '1BAD'" })
            Assert.Contains(needle, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name = ", "not valid TOML")]
    [InlineData("handler = \"main.handler\"", "'name' is required")]
    [InlineData("name = \"x\"\nruntime = \"exec\"", "needs 'command'")]
    [InlineData("name = \"x\"\nmemory = \"4M\"", "below the 16 MiB")]
    [InlineData("name = 5", "'name' must be a string")]
    public void Bad_manifests_are_refused_with_a_clear_message(string toml, string needle) =>
        Assert.Contains(needle, Assert.Throws<ManifestException>(() => FunctionManifest.Parse(toml)).Message, StringComparison.Ordinal);

    [Fact]
    public void A_requirements_txt_joins_the_manifests_packages_and_pip_options_are_refused()
    {
        string dir = Support.TestInstance.NewTempDir("thaw-test-fn-");
        try
        {
            File.WriteAllText(Path.Combine(dir, "thaw.toml"), "name = \"reqs\"\npackages = [\"numpy\"]\n");
            File.WriteAllText(Path.Combine(dir, "requirements.txt"), "# pinned\npillow==9.4.0\n\nrequests >=2, <3  # http\ntomli; python_version < \"3.11\"\n");
            Assert.Equal(["numpy", "pillow==9.4.0", "requests >=2, <3", "tomli; python_version < \"3.11\""], FunctionManifest.Load(dir).Packages);
            File.WriteAllText(Path.Combine(dir, "requirements.txt"), "-r other.txt\nhttps://example.org/x.whl\nnot a requirement!\n");
            var e = Assert.Throws<ManifestException>(() => FunctionManifest.Load(dir));
            Assert.Contains("line 1: '-r other.txt' is a pip option", e.Message, StringComparison.Ordinal);
            Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
            Assert.Contains("line 3: 'not a requirement!'", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_directory_without_a_manifest_says_so()
    {
        string dir = Support.TestInstance.NewTempDir("thaw-test-fn-");
        try
        {
            Assert.Contains("thaw.toml is missing", Assert.Throws<ManifestException>(() => FunctionManifest.Load(dir)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}
