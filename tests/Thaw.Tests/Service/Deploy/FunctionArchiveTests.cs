using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Thaw.Service.Deploy;
using Thaw.Tests.Support;
using static Thaw.Tests.Service.Deploy.TestArchives;
using static Thaw.Tests.Service.Deploy.TestEntry;

namespace Thaw.Tests.Service.Deploy;

/// <summary>
/// Deploy archives unpacked into a real directory: what a function's directory ends up holding, and
/// for every archive that is refused, that nothing was written beside the destination.
/// </summary>
public sealed class FunctionArchiveTests : IDisposable
{
    private readonly string _root = TestInstance.NewTempDir("thaw-test-archive-");
    private readonly string _dest;

    public FunctionArchiveTests()
    {
        _dest = Path.Combine(_root, "fn");
        Directory.CreateDirectory(_dest);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Limits as configured, with the body's buffer kept in the test's directory so a leftover would show.</summary>
    private FunctionArchiveOptions Options(long maxUnpackedBytes = 256L << 20, long maxArchiveBytes = 64L << 20, int maxEntries = 10_000) =>
        new() { MaxUnpackedBytes = maxUnpackedBytes, MaxArchiveBytes = maxArchiveBytes, MaxEntries = maxEntries, BufferDirectory = _root };

    private ArchiveSummary Extract(byte[] archive, FunctionArchiveOptions? options = null) =>
        FunctionArchive.Extract(new MemoryStream(archive), _dest, options ?? Options());

    private ArchiveException Refused(byte[] archive, FunctionArchiveOptions? options = null)
    {
        var e = Assert.Throws<ArchiveException>(() => Extract(archive, options));
        AssertNothingOutside();
        return e;
    }

    private string At(string relative) => Path.Combine(_dest, relative);

    private string Read(string relative) => File.ReadAllText(At(relative));

    private UnixFileMode Mode(string relative) => File.GetUnixFileMode(At(relative));

    /// <summary>The test's directory holds the destination and nothing else: no escaped entry, no buffer file.</summary>
    private void AssertNothingOutside() => Assert.Equal(_dest, Assert.Single(Directory.EnumerateFileSystemEntries(_root)));

    private IEnumerable<string> Symlinks() =>
        Directory.EnumerateFileSystemEntries(_dest, "*", SearchOption.AllDirectories).Where(p => new FileInfo(p).LinkTarget is not null);

    [Fact]
    public void A_tar_gz_unpacks_files_subdirectories_and_exec_bits_with_modes_and_owner_of_its_own()
    {
        var owned = TarFile("thaw.toml", "name = \"hello\"\n");
        owned.Uid = 1234;
        owned.Gid = 1234;
        var summary = Extract(TarGz(
            owned,
            TarDir("lib/", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute),
            TarFile("lib/util.py", "X = 1\n", UnixFileMode.UserRead | UnixFileMode.UserWrite),
            TarFile("bin/run.sh", "#!/bin/sh\necho hi\n", Executable | UnixFileMode.SetUser | UnixFileMode.SetGroup),
            TarFile("f.py", "def f(event):\n    return 1\n")));

        Assert.Equal(new ArchiveSummary(4, 14 + 6 + 19 + 27, "tar.gz"), summary);
        Assert.Equal("name = \"hello\"\n", Read("thaw.toml"));
        Assert.Equal("X = 1\n", Read("lib/util.py"));
        Assert.Equal("#!/bin/sh\necho hi\n", Read("bin/run.sh"));
        Assert.Equal(Executable, Mode("lib"));              // not the archive's 0700
        Assert.Equal(Executable, Mode("bin"));              // made for the file, not listed
        Assert.Equal(Regular, Mode("lib/util.py"));         // not the archive's 0600
        Assert.Equal(Executable, Mode("bin/run.sh"));       // setuid and setgid dropped
        Assert.Equal(Regular, Mode("thaw.toml"));
        Assert.All(Directory.EnumerateFileSystemEntries(_dest, "*", SearchOption.AllDirectories),
            p => Assert.Equal((0, 0), Thaw.Linux.Files.Owner.Get(p)));
        AssertNothingOutside();
    }

    [Fact]
    public void A_zip_unpacks_files_subdirectories_and_exec_bits()
    {
        var summary = Extract(Zip(
            ZipFile("thaw.toml", "name = \"hello\"\n"),
            ZipDir("lib/"),
            ZipFile("lib/util.py", "X = 1\n"),
            ZipFile("bin/run.sh", "#!/bin/sh\necho hi\n", ZipExecutable | 0xC00),    // with setuid and setgid
            ZipFile("win.txt", "no unix mode\n", 0)));                              // as a Windows zip has it

        Assert.Equal(new ArchiveSummary(4, 14 + 6 + 19 + 13, "zip"), summary);
        Assert.Equal("name = \"hello\"\n", Read("thaw.toml"));
        Assert.Equal("X = 1\n", Read("lib/util.py"));
        Assert.Equal("no unix mode\n", Read("win.txt"));
        Assert.Equal(Executable, Mode("lib"));
        Assert.Equal(Executable, Mode("bin/run.sh"));
        Assert.Equal(Regular, Mode("lib/util.py"));
        Assert.Equal(Regular, Mode("win.txt"));
        AssertNothingOutside();
    }

    [Theory]
    [InlineData("the directory")]          // tar czf hello.tgz hello
    [InlineData("its contents")]           // tar czf hello.tgz -C hello .
    public void An_archive_made_by_tar_unpacks_with_thaw_toml_at_the_top(string what)
    {
        string source = Path.Combine(Path.GetTempPath(), "thaw-test-archive-src-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string hello = Path.Combine(source, "hello");
            Directory.CreateDirectory(Path.Combine(hello, "sub"));
            File.WriteAllText(Path.Combine(hello, "thaw.toml"), "name = \"hello\"\n");
            File.WriteAllText(Path.Combine(hello, "sub", "helper.py"), "Y = 2\n");
            File.WriteAllText(Path.Combine(hello, "run.sh"), "#!/bin/sh\n");
            File.SetUnixFileMode(Path.Combine(hello, "run.sh"), Executable);
            string archive = Path.Combine(source, "hello.tgz");
            string[] args = what == "the directory" ? ["czf", archive, "-C", source, "hello"] : ["czf", archive, "-C", hello, "."];
            using (var tar = Process.Start(new ProcessStartInfo("tar", args) { RedirectStandardError = true })!)
            {
                tar.WaitForExit();
                Assert.True(tar.ExitCode == 0, tar.StandardError.ReadToEnd());
            }

            var summary = Extract(File.ReadAllBytes(archive));

            Assert.Equal(3, summary.Files);
            Assert.Equal("name = \"hello\"\n", Read("thaw.toml"));
            Assert.Equal("Y = 2\n", Read("sub/helper.py"));
            Assert.Equal(Executable, Mode("run.sh"));
            Assert.Equal(Regular, Mode("thaw.toml"));
            Assert.False(Directory.Exists(At("hello")));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [Theory]
    [InlineData("tar.gz", "hello/")]
    [InlineData("tar.gz", "./hello/")]
    [InlineData("tar.gz", "./")]
    [InlineData("zip", "hello/")]
    [InlineData("zip", "")]
    public void One_top_level_directory_is_stripped(string format, string prefix)
    {
        Extract(Build(format, F(prefix + "thaw.toml", "t"), F(prefix + "lib/x.py", "x")));

        Assert.Equal("t", Read("thaw.toml"));
        Assert.Equal("x", Read("lib/x.py"));
        Assert.Equal(new[] { "lib", "thaw.toml" }, Directory.EnumerateFileSystemEntries(_dest).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_git_archive_commit_header_is_skipped()
    {
        var commit = new PaxGlobalExtendedAttributesTarEntry(new Dictionary<string, string> { ["comment"] = "0123abcd" });

        var summary = Extract(TarGz(commit, TarDir("hello/"), TarFile("hello/thaw.toml", "t")));

        Assert.Equal(1, summary.Files);
        Assert.Equal("t", Read("thaw.toml"));
        Assert.Equal(_dest + "/thaw.toml", Assert.Single(Directory.EnumerateFileSystemEntries(_dest)));
    }

    [Theory]
    [InlineData("tar.gz")]
    [InlineData("zip")]
    public void A_lone_directory_beside_a_file_is_kept(string format)
    {
        Extract(Build(format, D("lib/"), F("lib/x.py", "x"), F("README", "r")));

        Assert.Equal("x", Read("lib/x.py"));
        Assert.Equal("r", Read("README"));
    }

    [Theory]
    [InlineData("tar.gz", "../evil")]
    [InlineData("tar.gz", "lib/../../evil")]
    [InlineData("tar.gz", "/etc/thaw-test-archive-evil")]
    [InlineData("tar.gz", "{root}/evil")]
    [InlineData("zip", "../evil")]
    [InlineData("zip", "..\\evil")]
    [InlineData("zip", "/etc/thaw-test-archive-evil")]
    [InlineData("zip", "{root}/evil")]
    [InlineData("zip", "evil\0.py")]
    public void Entries_that_climb_out_are_refused_before_anything_is_written(string format, string name)
    {
        name = name.Replace("{root}", _root, StringComparison.Ordinal);

        var e = Refused(Build(format, F("thaw.toml", "t"), F(name, "pwned")));

        Assert.Contains(name.Replace('\0', '?').Replace('\\', '/'), e.Message, StringComparison.Ordinal);    // zip's backslashes are separators
        Assert.False(e.TooLarge);
        Assert.False(File.Exists("/etc/thaw-test-archive-evil"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Theory]
    [InlineData("tar.gz", "/etc/passwd")]
    [InlineData("tar.gz", "../../x")]
    [InlineData("tar.gz", "../..")]
    [InlineData("tar.gz", "../../fn/../x")]
    [InlineData("zip", "/etc/passwd")]
    [InlineData("zip", "../../x")]
    public void Symlinks_pointing_outside_are_refused(string format, string target)
    {
        var e = Refused(Build(format, F("thaw.toml", "t"), D("lib/"), L("lib/link", target)));

        Assert.Equal("symlink 'lib/link' points outside the function", e.Message);
        Assert.Empty(Symlinks());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_symlink_that_leads_out_through_another_is_refused_whichever_comes_first(bool linkFirst)
    {
        // sub/b reads as sub/x, but the kernel follows sub/a (to the top) before the "..".
        TestEntry a = L("sub/a", ".."), b = L("sub/b", "a/../x");

        var e = Refused(Build("tar.gz", F("thaw.toml", "t"), D("sub/"), linkFirst ? a : b, linkFirst ? b : a));

        Assert.Equal("symlink 'sub/b' points outside the function", e.Message);
        Assert.Empty(Symlinks());
    }

    [Fact]
    public void Symlinks_in_a_loop_are_refused()
    {
        var e = Refused(Build("tar.gz", L("a", "b"), L("b", "a")));

        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("loop", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tar.gz")]
    [InlineData("zip")]
    public void Symlinks_inside_the_function_are_made(string format)
    {
        var summary = Extract(Build(format,
            F("thaw.toml", "t"),
            F("data/v1/x.txt", "v1"),
            L("lib/current", "../data/v1"),
            L("config", "thaw.toml"),
            L("data/v1/self", "../..")));

        Assert.Equal(2, summary.Files);
        Assert.Equal("../data/v1", new FileInfo(At("lib/current")).LinkTarget);
        Assert.Equal("v1", Read("lib/current/x.txt"));
        Assert.Equal("t", Read("config"));
        Assert.Equal("t", Read("data/v1/self/thaw.toml"));
        AssertNothingOutside();
    }

    [Theory]
    [InlineData("tar.gz")]
    [InlineData("zip")]
    public void Nothing_is_written_through_a_symlink(string format)
    {
        var e = Refused(Build(format, D("sub/"), L("s", "sub"), F("s/x.py", "through")));

        Assert.Contains("'s/x.py'", e.Message, StringComparison.Ordinal);
        Assert.Contains("symlink 's'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(At("sub/x.py")));
    }

    [Theory]
    [InlineData("tar.gz")]
    [InlineData("zip")]
    public void A_file_cannot_replace_a_symlink_or_a_directory(string format)
    {
        var overLink = Refused(Build(format, F("target.txt", "keep"), L("s", "target.txt"), F("s", "replaced")));
        Assert.Contains("cannot replace the symlink", overLink.Message, StringComparison.Ordinal);
        Assert.Equal("keep", Read("target.txt"));

        Directory.Delete(_dest, recursive: true);
        Directory.CreateDirectory(_dest);
        var overDirectory = Refused(Build(format, F("d/x", "x"), F("d", "replaced")));
        Assert.Contains("cannot replace the directory", overDirectory.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tar.gz")]
    [InlineData("zip")]
    public void A_later_copy_of_a_file_replaces_the_earlier(string format)
    {
        var summary = Extract(Build(format, F("a.txt", "one, longer"), F("a.txt", "two", executable: true)));

        Assert.Equal("two", Read("a.txt"));
        Assert.Equal(Executable, Mode("a.txt"));
        Assert.Equal(1, summary.Files);
    }

    [Theory]
    [InlineData(TarEntryType.HardLink, "hard links")]
    [InlineData(TarEntryType.CharacterDevice, "device nodes")]
    [InlineData(TarEntryType.BlockDevice, "device nodes")]
    [InlineData(TarEntryType.Fifo, "fifos")]
    public void Hard_links_devices_and_fifos_in_a_tar_are_refused(TarEntryType type, string what)
    {
        var special = new PaxTarEntry(type, "x");
        if (type == TarEntryType.HardLink)
            special.LinkName = "thaw.toml";

        var e = Refused(TarGz(TarFile("thaw.toml", "t"), special));

        Assert.Equal($"entry 'x': {what} are not allowed", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Theory]
    [InlineData(0x2000, "device nodes")]
    [InlineData(0x1000, "fifos")]
    [InlineData(0xC000, "special files")]      // a socket
    public void Devices_fifos_and_sockets_in_a_zip_are_refused(int type, string what)
    {
        var e = Refused(Zip(ZipFile("thaw.toml", "t"), ("x", "", type | 0b110_110_110)));

        Assert.Equal($"entry 'x': {what} are not allowed", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Fact]
    public void A_gzip_bomb_is_refused_quickly_without_filling_the_disk()
    {
        var bomb = TarGz(TarFile("thaw.toml", "t"), new PaxTarEntry(TarEntryType.RegularFile, "big.bin") { DataStream = new ZeroStream(300L << 20) });
        Assert.True(bomb.Length < 4 << 20, $"the bomb is {bomb.Length} bytes");     // 100:1 and more

        var clock = Stopwatch.StartNew();
        var e = Refused(bomb, Options(maxUnpackedBytes: 1 << 20));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.True(e.TooLarge);
        Assert.Equal("the archive unpacks to more than 1 MiB", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Fact]
    public void Zeros_inflated_after_the_tar_ends_are_bounded_too()
    {
        // Nothing the tar declares is large: the 300 MiB come after its end, where only the inflated count sees them.
        var bomb = Gzip(stream =>
        {
            stream.Write(TarBytes(TarFile("thaw.toml", "t")));
            new ZeroStream(300L << 20).CopyTo(stream);
        });

        var clock = Stopwatch.StartNew();
        var e = Refused(bomb, Options(maxUnpackedBytes: 1 << 20, maxEntries: 10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.True(e.TooLarge);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Fact]
    public void Files_that_together_pass_the_limit_are_refused()
    {
        string half = new('x', 400 << 10);

        var e = Refused(Build("zip", F("a", half), F("b", half), F("c", half)), Options(maxUnpackedBytes: 1 << 20));

        Assert.True(e.TooLarge);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Fact]
    public void Bytes_are_counted_as_written_whatever_size_was_declared()
    {
        var tree = new ExtractionTree(_dest, null, Options(maxUnpackedBytes: 1 << 20));

        var e = Assert.Throws<ArchiveException>(() => tree.AddFile("big.bin", new ZeroStream(300L << 20), executable: false));

        Assert.True(e.TooLarge);
        Assert.InRange(new FileInfo(At("big.bin")).Length, 0, 1 << 20);
    }

    [Fact]
    public void More_entries_than_allowed_are_refused()
    {
        var e = Refused(Build("tar.gz", [.. Enumerable.Range(0, 11).Select(i => F($"f{i}", "x"))]), Options(maxEntries: 10));

        Assert.True(e.TooLarge);
        Assert.Equal("the archive has more than 10 entries", e.Message);
    }

    [Fact]
    public void A_body_past_the_limit_is_cut_off_while_it_is_read()
    {
        var body = new byte[4 << 20];
        RandomNumberGenerator.Fill(body);
        body[0] = 0x1f;
        body[1] = 0x8b;
        var stream = new RequestBodyStream(new MemoryStream(body));

        var e = Assert.Throws<ArchiveException>(() => FunctionArchive.Extract(stream, _dest, Options(maxArchiveBytes: 1 << 20)));

        Assert.True(e.TooLarge);
        Assert.Equal("the archive is larger than 1 MiB", e.Message);
        Assert.InRange(stream.BytesRead, 1 << 20, (1 << 20) + (128 << 10));
        AssertNothingOutside();
    }

    [Fact]
    public async Task A_request_body_is_read_asynchronously()
    {
        var stream = new RequestBodyStream(new MemoryStream(Build("zip", F("thaw.toml", "t"))), asyncOnly: true);

        var summary = await FunctionArchive.ExtractAsync(stream, _dest, Options());

        Assert.Equal(new ArchiveSummary(1, 1, "zip"), summary);
        Assert.Equal("t", Read("thaw.toml"));
    }

    [Theory]
    [InlineData("name = \"hello\"\n")]
    [InlineData("PK\u0001\u0002 not quite")]
    [InlineData("\u001f")]
    public void Anything_else_is_not_an_archive(string body)
    {
        var e = Refused(Encoding.UTF8.GetBytes(body));

        Assert.Equal("not a .tar.gz or .zip archive", e.Message);
        Assert.False(e.TooLarge);
    }

    [Fact]
    public void Empty_bodies_and_archives_are_refused()
    {
        Assert.Equal("empty archive", Refused([]).Message);
        Assert.Equal("empty archive", Refused(Zip()).Message);
        Assert.Equal("empty archive", Refused(TarGz()).Message);
    }

    [Fact]
    public void A_truncated_gzip_is_corrupt()
    {
        var random = new byte[100_000];
        RandomNumberGenerator.Fill(random);
        var whole = TarGz(TarFile("thaw.toml", "t"), new PaxTarEntry(TarEntryType.RegularFile, "data.bin") { DataStream = new MemoryStream(random) });

        var e = Refused(whole[..(whole.Length / 2)]);

        Assert.StartsWith("corrupt archive: ", e.Message, StringComparison.Ordinal);
        Assert.False(e.TooLarge);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
    }

    [Fact]
    public void A_gzip_that_holds_no_tar_is_corrupt()
    {
        var e = Refused(Gzip(stream => stream.Write(Encoding.UTF8.GetBytes(new string('a', 2000)))));

        Assert.StartsWith("corrupt archive: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zip_without_its_directory_is_corrupt()
    {
        var whole = Build("zip", F("thaw.toml", "t"), F("f.py", "def f(e): pass\n"));

        var e = Refused(whole[..(whole.Length - 40)]);

        Assert.StartsWith("corrupt archive: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_destination_must_be_empty()
    {
        File.WriteAllText(At("old.txt"), "old");

        Assert.Throws<ArgumentException>(() => Extract(Build("zip", F("thaw.toml", "t"))));
    }

    private static byte[] TarBytes(params TarEntry[] entries)
    {
        var bytes = new MemoryStream();
        using (var tar = new TarWriter(bytes, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in entries)
                tar.WriteEntry(entry);
        }
        return bytes.ToArray();
    }
}
