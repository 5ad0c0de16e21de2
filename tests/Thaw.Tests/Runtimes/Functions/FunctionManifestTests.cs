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

    [Theory]
    [InlineData("name = \"x\"\nmemory = \"64M\"\nmemory = \"128M\"\n", "memory", "line 3")]
    [InlineData("name = \"x\"\n[environment]\nA = \"1\"\nB = \"2\"\nA = \"3\"\n", "environment.A", "line 5")]
    [InlineData("name = \"x\"\n[environment]\nA = \"1\"\n[environment]\nB = \"2\"\n", "environment", "line 4")]
    public void Duplicate_keys_are_refused_naming_the_key_and_line(string toml, string key, string line)
    {
        string message = Assert.Throws<ManifestException>(() => FunctionManifest.Parse(toml)).Message;
        Assert.Contains($"`{key}` is already defined", message, StringComparison.Ordinal);
        Assert.Contains(line, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Memory_and_timeouts_take_plain_integers_in_MiB_and_seconds_as_SAM_writes_them()
    {
        var m = FunctionManifest.Parse("name = \"sam\"\nmemory = 256\ntimeout = 5\ninit_timeout = 3\nkeep_alive = 0\n");
        Assert.Equal((256L << 20, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3), TimeSpan.Zero), (m.MemoryBytes, m.Timeout, m.InitTimeout, m.KeepAlive));
        var strings = FunctionManifest.Parse("name = \"sam\"\nmemory = \"1G\"\ntimeout = \"1.5s\"\ninit_timeout = \"250ms\"\n");
        Assert.Equal((1L << 30, TimeSpan.FromSeconds(1.5), TimeSpan.FromMilliseconds(250)), (strings.MemoryBytes, strings.Timeout, strings.InitTimeout));
        Assert.Null(FunctionManifest.Parse("name = \"sam\"").InitTimeout);

        string message = Assert.Throws<ManifestException>(() => FunctionManifest.Parse("name = \"sam\"\nmemory = 8\ntimeout = 0\ninit_timeout = -1\nconcurrency = 1.5\n")).Message;
        Assert.Contains("memory 8 MiB is below the 16 MiB", message, StringComparison.Ordinal);
        Assert.Contains("'timeout': 0 is not allowed here: it must be more than 0", message, StringComparison.Ordinal);
        Assert.Contains("'init_timeout': -1 is not allowed here", message, StringComparison.Ordinal);
        Assert.Contains("'concurrency' must be a number", message, StringComparison.Ordinal);
        Assert.Contains("'memory': must be a string with a unit", Assert.Throws<ManifestException>(() => FunctionManifest.Parse("name = \"sam\"\nmemory = 1.5\n")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("timeout = \"0s\"", "'timeout': '0s' is not allowed here: it must be more than 0s")]
    [InlineData("timeout = \"100h\"", "timeout 100h is over the 15m limit")]
    [InlineData("timeout = \"soon\"", "'timeout': 'soon' is not a duration (examples: 5s")]
    [InlineData("keep_alive = \"36h\"", "keep_alive 36h is over the 24h limit")]
    [InlineData("keep_alive = \"-1s\"", "'keep_alive': '-1s' is not allowed here: it must be 0s or more")]
    [InlineData("init_timeout = \"20m\"", "init_timeout 20m is over the 15m limit")]
    [InlineData("memory = \"0M\"", "'memory': '0M' is not allowed here: a size must be more than 0")]
    public void Limits_say_what_is_allowed_with_durations_as_people_write_them(string line, string needle) =>
        Assert.Contains(needle, Assert.Throws<ManifestException>(() => FunctionManifest.Parse("name = \"x\"\n" + line)).Message, StringComparison.Ordinal);

    [Fact]
    public void A_manifest_that_is_not_utf8_is_refused_naming_where()
    {
        string dir = Support.TestInstance.NewTempDir("thaw-test-fn-");
        try
        {
            byte[] bytes = [.. "name = \"x\"\nhandler = \"ma"u8, 0xFF, 0xFE, .. "in.f\"\n"u8];
            File.WriteAllBytes(Path.Combine(dir, "thaw.toml"), bytes);
            string message = Assert.Throws<ManifestException>(() => FunctionManifest.Load(dir)).Message;
            Assert.Contains("thaw.toml is not valid UTF-8: line 2, column 14 (byte 0xFF at offset 24)", message, StringComparison.Ordinal);
            Assert.DoesNotContain("surrogate", message, StringComparison.OrdinalIgnoreCase);

            File.WriteAllBytes(Path.Combine(dir, "thaw.toml"), [0xEF, 0xBB, 0xBF, .. "name = \"x\"\n"u8]); // a BOM is fine
            Assert.Equal("x", FunctionManifest.Load(dir).Name);
            File.WriteAllBytes(Path.Combine(dir, "requirements.txt"), [.. "numpy\nr\u00e9quests"u8[..10], 0xC3]);
            Assert.Contains("requirements.txt is not valid UTF-8: line 2", Assert.Throws<ManifestException>(() => FunctionManifest.Load(dir)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(360_000, "100h")]
    [InlineData(30, "30s")]
    [InlineData(1.5, "1.5s")]
    [InlineData(0.25, "250ms")]
    [InlineData(900, "15m")]
    [InlineData(90, "90s")]
    [InlineData(0, "0s")]
    public void Durations_print_as_people_write_them_and_read_back(double seconds, string text)
    {
        Assert.Equal(text, Thaw.Runtimes.Units.FormatDuration(TimeSpan.FromSeconds(seconds)));
        Assert.Equal(TimeSpan.FromSeconds(seconds), Thaw.Runtimes.Units.ParseDuration(text, allowZero: true));
    }

    [Fact]
    public void The_reference_describes_every_key_and_its_examples_parse()
    {
        string text = File.ReadAllText(Support.RepoFiles.Find("docs/thaw-toml.md"));
        foreach (var key in FunctionManifest.KnownKeys)
            Assert.Contains($"| `{key}` |", text, StringComparison.Ordinal);
        var examples = System.Text.RegularExpressions.Regex.Matches(text, "```toml\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.True(examples.Count >= 2);
        foreach (System.Text.RegularExpressions.Match example in examples.Where(e => e.Groups[1].Value.Contains("name =", StringComparison.Ordinal)))
            Assert.NotNull(FunctionManifest.Parse(example.Groups[1].Value));
    }

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
