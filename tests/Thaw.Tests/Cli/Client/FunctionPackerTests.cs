using System.Formats.Tar;
using System.IO.Compression;
using Thaw.Cli.Client;
using Thaw.Runtimes.Functions;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli.Client;

/// <summary>`thaw deploy`'s packing: what goes in the archive, and what is refused before anything is sent.</summary>
public sealed class FunctionPackerTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-pack-");

    [Fact]
    public void Entries_are_relative_build_output_and_git_are_left_out_and_symlinks_stay_symlinks()
    {
        Write("thaw.toml", "name = \"packed\"\n");
        Write("f.py", "def f(event):\n    return event\n");
        Write("lib/util.py", "X = 1\n");
        Write("lib/util.pyc", "compiled");
        Write("__pycache__/f.cpython-312.pyc", "compiled");
        Write(".git/HEAD", "ref: refs/heads/main\n");
        File.CreateSymbolicLink(Path.Combine(_dir, "alias.py"), "f.py");
        File.CreateSymbolicLink(Path.Combine(_dir, "outside"), "/etc/passwd");

        var packed = FunctionPacker.Pack(_dir);

        Assert.Equal("packed", packed.Name);
        var entries = Read(packed.Archive);
        Assert.Equal(["alias.py", "f.py", "lib/", "outside", "thaw.toml", "lib/util.py"], entries.Select(e => e.Name));
        Assert.Equal(entries.Count, packed.Entries);
        Assert.Equal((TarEntryType.SymbolicLink, "f.py"), (entries[0].Type, entries[0].LinkName));
        Assert.Equal((TarEntryType.SymbolicLink, "/etc/passwd"), (entries[3].Type, entries[3].LinkName));
        Assert.Equal("name = \"packed\"\n", entries[4].Text);
    }

    [Fact]
    public void A_dir_without_thaw_toml_or_with_a_bad_one_is_refused_locally_as_thawd_would()
    {
        var missing = Assert.Throws<ManifestException>(() => FunctionPacker.Pack(_dir));
        Assert.Equal($"thaw.toml is missing from '{_dir}' (a function is a directory with a thaw.toml and its code)", missing.Message);
        Assert.Throws<DirectoryNotFoundException>(() => FunctionPacker.Pack(Path.Combine(_dir, "nope")));

        Write("thaw.toml", "name = \"Bad_Name\"\nmemroy = \"64M\"\n");
        var bad = Assert.Throws<ManifestException>(() => FunctionPacker.Pack(_dir));
        Assert.Equal(Assert.Throws<ManifestException>(() => FunctionManifest.Load(_dir)).Message, bad.Message);
        Assert.Contains("unknown key 'memroy'", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_given_rewrites_the_packed_manifests_name_and_keeps_the_rest()
    {
        Write("thaw.toml", "# my function\nname = 'original'  # as in the repo\nmemory = \"64M\"\n\n[environment]\nname = \"not-the-function\"\n");
        Write("f.py", "def f(event):\n    return event\n");

        var packed = FunctionPacker.Pack(_dir, "renamed");

        Assert.Equal("renamed", packed.Name);
        string toml = Read(packed.Archive).Single(e => e.Name == "thaw.toml").Text!;
        Assert.Equal("# my function\nname = \"renamed\"\nmemory = \"64M\"\n\n[environment]\nname = \"not-the-function\"\n", toml);
        Assert.Equal("name = \"added\"\nmemory = \"64M\"\n", FunctionPacker.WithName("memory = \"64M\"\n", "added"));
        Assert.Contains("name 'No Good' must be", Assert.Throws<ManifestException>(() => FunctionPacker.Pack(_dir, "No Good")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pack_over_the_limit_is_refused_before_sending()
    {
        Write("thaw.toml", "name = \"big\"\n");
        File.WriteAllBytes(Path.Combine(_dir, "model.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(256 << 10));
        var refused = Assert.Throws<InvalidOperationException>(() => FunctionPacker.Pack(_dir, maxBytes: 128 << 10));
        Assert.StartsWith($"'{_dir}' packs to more than 131072 bytes (compressed)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(64L << 20, FunctionPacker.DefaultMaxBytes);
    }

    private void Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static List<(string Name, TarEntryType Type, string LinkName, string? Text)> Read(byte[] archive)
    {
        var entries = new List<(string, TarEntryType, string, string?)>();
        using var reader = new TarReader(new GZipStream(new MemoryStream(archive), CompressionMode.Decompress));
        while (reader.GetNextEntry() is { } entry)
            entries.Add((entry.Name, entry.EntryType, entry.LinkName, entry.DataStream is { } data ? new StreamReader(data).ReadToEnd() : null));
        return entries;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
