using Microsoft.Data.Sqlite;
using Thaw.Service.Registry;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service.Registry;

/// <summary>The registry on a real SQLite file in a temp dir: records, version numbers, restarts, bad files.</summary>
public sealed class FunctionRegistryTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-registry-");

    private string DbPath => Path.Combine(_dir, "registry.db");

    private static FunctionRecord Record(string name, int version, params string[] installed) => new(
        name, version, $"/state/functions/{name}/{version}", new string('a', 64),
        new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero).AddTicks(1234567), installed, installed.Length == 0 ? "root" : "numpy,PIL",
        installed.Length == 0 ? [] : ["PIL", "PIL.Image", "numpy"]);

    // FunctionRecord's generated equality compares Installed and Modules by reference; a record read back has a new list.
    private static void AssertSameRecord(FunctionRecord expected, FunctionRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected with { Installed = [], Modules = [] }, actual with { Installed = [], Modules = [] });
        Assert.Equal(expected.Installed, actual.Installed);
        Assert.Equal(expected.Modules, actual.Modules);
    }

    [Fact]
    public void Put_get_list_and_remove()
    {
        using var registry = FunctionRegistry.Open(DbPath);
        Assert.Null(registry.Get("hello"));
        Assert.Empty(registry.List());

        var hello = Record("hello", 1);
        var resize = Record("resize", 1, "numpy-2.1.0", "pillow-11.0.0");
        registry.Put(resize);
        registry.Put(hello);
        AssertSameRecord(hello, registry.Get("hello"));
        AssertSameRecord(resize, registry.Get("resize"));
        Assert.Equal(["hello", "resize"], registry.List().Select(r => r.Name)); // by name, not by insertion

        var hello2 = Record("hello", 2, "requests-2.31.0");
        registry.Put(hello2);                                                  // replaces the current version
        AssertSameRecord(hello2, registry.Get("hello"));
        Assert.Equal(2, registry.List().Count);

        Assert.True(registry.Remove("hello"));
        Assert.False(registry.Remove("hello"));
        Assert.Null(registry.Get("hello"));
        Assert.Equal(["resize"], registry.List().Select(r => r.Name));
    }

    [Fact]
    public void Deployed_at_is_kept_in_utc_to_the_tick()
    {
        using var registry = FunctionRegistry.Open(DbPath);
        var local = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(7);
        registry.Put(Record("clock", 1) with { DeployedAt = local });
        var read = registry.Get("clock")!.DeployedAt;
        Assert.Equal(TimeSpan.Zero, read.Offset);
        Assert.Equal(local.UtcTicks, read.UtcTicks);
    }

    [Fact]
    public void Versions_increase_and_are_never_reused_after_remove_and_redeploy()
    {
        using var registry = FunctionRegistry.Open(DbPath);
        Assert.Equal(1, registry.NextVersion("hello"));
        Assert.Equal(1, registry.NextVersion("hello"));     // asking reserves nothing: a refused deploy leaves the number free
        Assert.Equal(1, registry.NextVersion("other"));     // counters are per name
        registry.Put(Record("hello", 1));
        Assert.Equal(2, registry.NextVersion("hello"));
        registry.Put(Record("hello", 2));
        Assert.True(registry.Remove("hello"));
        Assert.Equal(3, registry.NextVersion("hello"));     // a removed function's numbers stay taken

        registry.Put(Record("imported", 7));                // a record put without a reservation moves the counter too
        Assert.Equal(8, registry.NextVersion("imported"));
    }

    [Fact]
    public void Records_and_counters_survive_a_restart()
    {
        var record = Record("hello", 1, "requests-2.31.0");
        using (var registry = FunctionRegistry.Open(DbPath))
        {
            Assert.Equal(1, registry.NextVersion("hello"));
            registry.Put(record);
            registry.Put(Record("gone", 1));
            registry.Put(Record("gone", 2));
            Assert.True(registry.Remove("gone"));             // put twice, then removed ...
        }
        using (var registry = FunctionRegistry.Open(DbPath))
        {
            AssertSameRecord(record, registry.Get("hello"));
            Assert.Equal(2, registry.NextVersion("hello"));
            Assert.Equal(3, registry.NextVersion("gone"));   // ... and its numbers stay taken
        }
    }

    [Fact]
    public async Task Concurrent_deploys_get_distinct_versions_and_all_land()
    {
        using var registry = FunctionRegistry.Open(DbPath);
        const int Deploys = 200;
        string[] names = ["a", "b", "c", "d"];
        var deploysOfName = names.ToDictionary(n => n, _ => new SemaphoreSlim(1, 1)); // as thawd runs one deploy at a time
        var versions = await Task.WhenAll(Enumerable.Range(0, Deploys).Select(i => Task.Run(async () =>
        {
            string name = names[i % names.Length];
            int version;
            await deploysOfName[name].WaitAsync();
            try
            {
                version = registry.NextVersion(name);
                registry.Put(Record(name, version));
            }
            finally
            {
                deploysOfName[name].Release();
            }
            registry.Put(Record($"solo-{i:D3}", 1));
            _ = registry.Get(name);
            return (name, version);
        })));
        foreach (var group in versions.GroupBy(v => v.name))
            Assert.Equal(Enumerable.Range(1, Deploys / names.Length), group.Select(v => v.version).Order());
        var all = registry.List();
        Assert.Equal(names.Length + Deploys, all.Count);
        Assert.Equal(all.Select(r => r.Name).Order(StringComparer.Ordinal), all.Select(r => r.Name));
    }

    [Fact]
    public void A_file_that_is_not_sqlite_is_refused_by_name_and_left_untouched()
    {
        byte[] garbage = [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 31 % 251))];
        File.WriteAllBytes(DbPath, garbage);
        var e = Assert.Throws<InvalidDataException>(() => FunctionRegistry.Open(DbPath));
        Assert.Contains(DbPath, e.Message, StringComparison.Ordinal);
        Assert.Contains("not a SQLite database", e.Message, StringComparison.Ordinal);
        Assert.Equal(garbage, File.ReadAllBytes(DbPath));
        Assert.Equal(["registry.db"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName)); // no -wal, -shm or -journal
        Assert.Empty(OpenFdsOn(DbPath));
    }

    [Fact]
    public void A_newer_schema_is_refused_by_name()
    {
        using (var db = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            db.Open();
            using var command = db.CreateCommand();
            command.CommandText = $"PRAGMA user_version = {FunctionRegistry.SchemaVersion + 1}";
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<InvalidDataException>(() => FunctionRegistry.Open(DbPath));
        Assert.Contains(DbPath, e.Message, StringComparison.Ordinal);
        Assert.Contains($"schema {FunctionRegistry.SchemaVersion + 1}", e.Message, StringComparison.Ordinal);
        Assert.Empty(OpenFdsOn(DbPath));
    }

    [Fact]
    public void The_database_is_in_wal_mode_at_the_current_schema()
    {
        using (var registry = FunctionRegistry.Open(DbPath))
            registry.Put(Record("hello", 1));
        using var db = new SqliteConnection($"Data Source={DbPath};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", command.ExecuteScalar());
        command.CommandText = "PRAGMA user_version";
        Assert.Equal((long)FunctionRegistry.SchemaVersion, command.ExecuteScalar());
    }

    [Fact]
    public void After_dispose_no_fd_is_open_on_the_database()
    {
        var registry = FunctionRegistry.Open(DbPath);
        registry.Put(Record("hello", 1));
        _ = registry.List();
        Assert.NotEmpty(OpenFdsOn(DbPath));                // the check sees the fd while it is open
        registry.Dispose();
        registry.Dispose();                                // twice is harmless
        Assert.Empty(OpenFdsOn(DbPath));
        Assert.Throws<ObjectDisposedException>(() => registry.Get("hello"));
    }

    /// <summary>This process's fds on the database or its -wal/-shm files, from /proc/self/fd.</summary>
    private static List<string> OpenFdsOn(string db)
    {
        var open = new List<string>();
        foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;                                  // closed by another test while we looked
            }
            if (target is not null && target.StartsWith(db, StringComparison.Ordinal))
                open.Add(target);
        }
        return open;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
