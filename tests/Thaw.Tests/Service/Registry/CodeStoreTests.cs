using Thaw.Service.Registry;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service.Registry;

/// <summary>The code store on a temp dir: staging, atomic commit, removal, and the sweep after a crash.</summary>
public sealed class CodeStoreTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-registry-");

    private string Root => Path.Combine(_dir, "functions");

    private static string Stage(CodeStore store, string content)
    {
        string staging = store.NewStaging();
        File.WriteAllText(Path.Combine(staging, "handler.py"), content);
        return staging;
    }

    [Fact]
    public void Staging_dirs_are_fresh_and_empty_and_commit_renames_them_into_place()
    {
        var store = new CodeStore(_dir);
        Assert.Equal(Root, store.Root);
        string a = store.NewStaging(), b = store.NewStaging();
        Assert.NotEqual(a, b);
        Assert.Equal(Path.Combine(Root, ".staging"), Path.GetDirectoryName(a));
        Assert.Empty(Directory.EnumerateFileSystemEntries(a));

        File.WriteAllText(Path.Combine(a, "handler.py"), "v1");
        string dir = store.Commit(a, "hello", 1);
        Assert.Equal(Path.Combine(Root, "hello", "1"), dir);
        Assert.Equal("v1", File.ReadAllText(Path.Combine(dir, "handler.py")));
        Assert.False(Directory.Exists(a));
    }

    [Fact]
    public void Commit_refuses_an_existing_version_and_a_dir_that_is_not_staging()
    {
        var store = new CodeStore(_dir);
        store.Commit(Stage(store, "v1"), "hello", 1);
        string again = Stage(store, "other");
        Assert.Throws<IOException>(() => store.Commit(again, "hello", 1));
        Assert.Equal("v1", File.ReadAllText(Path.Combine(Root, "hello", "1", "handler.py"))); // not merged, not replaced
        Assert.True(Directory.Exists(again));

        string elsewhere = Path.Combine(_dir, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        Assert.Throws<ArgumentException>(() => store.Commit(elsewhere, "hello", 2));
        Assert.Throws<ArgumentException>(() => store.Commit(Path.Combine(Root, ".staging", "missing"), "hello", 2));
        Assert.True(Directory.Exists(elsewhere));
    }

    [Fact]
    public void Remove_takes_one_version_and_remove_all_takes_the_function()
    {
        var store = new CodeStore(_dir);
        store.Commit(Stage(store, "v1"), "hello", 1);
        store.Commit(Stage(store, "v2"), "hello", 2);
        store.Commit(Stage(store, "x"), "other", 1);

        store.Remove("hello", 1);
        Assert.False(Directory.Exists(Path.Combine(Root, "hello", "1")));
        Assert.True(Directory.Exists(Path.Combine(Root, "hello", "2")));
        store.Remove("hello", 1);                          // already gone: nothing to do
        store.RemoveAll("hello");
        Assert.False(Directory.Exists(Path.Combine(Root, "hello")));
        store.RemoveAll("hello");
        Assert.True(Directory.Exists(Path.Combine(Root, "other", "1")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Root, ".staging"))); // the trash went with it
    }

    [Fact]
    public void Sweep_removes_staging_dirs_and_unreferenced_versions_and_keeps_the_rest()
    {
        var store = new CodeStore(_dir);
        string hello1 = store.Commit(Stage(store, "v1"), "hello", 1);
        string hello2 = store.Commit(Stage(store, "v2"), "hello", 2);
        string orphan = store.Commit(Stage(store, "x"), "orphan", 4);   // committed, then crashed before the registry's write
        string staged = Stage(store, "half");                           // crashed while extracting
        string stranger = Path.Combine(Root, "hello", "notes");         // not a version: not ours to delete
        Directory.CreateDirectory(stranger);

        var removed = store.Sweep([("hello", 2)]);

        Assert.Equal(new[] { hello1, orphan, staged }.Order(), removed.Order());
        Assert.True(Directory.Exists(hello2));
        Assert.True(Directory.Exists(stranger));
        Assert.False(Directory.Exists(Path.Combine(Root, "orphan")));   // an emptied function dir goes too
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Root, ".staging")));
        Assert.Empty(new CodeStore(_dir).Sweep([("hello", 2)]));       // nothing left to do
    }

    [Fact]
    public void Sweep_keeps_what_the_registry_lists_across_a_restart()
    {
        var store = new CodeStore(_dir);
        string kept;
        using (var registry = FunctionRegistry.Open(Path.Combine(_dir, "registry.db")))
        {
            int v = registry.NextVersion("hello");
            kept = store.Commit(Stage(store, "v1"), "hello", v);
            registry.Put(new FunctionRecord("hello", v, kept, new string('0', 64), DateTimeOffset.UtcNow, [], "root", []));
            store.Commit(Stage(store, "v2"), "hello", registry.NextVersion("hello")); // the deploy died here
        }
        using (var registry = FunctionRegistry.Open(Path.Combine(_dir, "registry.db")))
        {
            var removed = new CodeStore(_dir).Sweep(registry.List().Select(r => (r.Name, r.Version)));
            Assert.Equal([Path.Combine(Root, "hello", "2")], removed);
            Assert.True(Directory.Exists(kept));
            Assert.Equal(2, registry.NextVersion("hello")); // the deploy that died never took its number
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("/abs")]
    [InlineData(".staging")]
    [InlineData("Hello")]
    [InlineData("-flag")]
    [InlineData("_x")]
    [InlineData("a b")]
    [InlineData("ok\n")]
    [InlineData("a.b")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 64
    public void Names_that_are_not_safe_path_components_are_refused(string name)
    {
        var store = new CodeStore(_dir);
        string staging = Stage(store, "x");
        Assert.Throws<ArgumentException>(() => store.Commit(staging, name, 1));
        Assert.Throws<ArgumentException>(() => store.Remove(name, 1));
        Assert.Throws<ArgumentException>(() => store.RemoveAll(name));
        Assert.Throws<ArgumentException>(() => store.Sweep([(name, 1)]));
        Assert.True(Directory.Exists(staging));
        Assert.Equal([".staging"], Directory.EnumerateFileSystemEntries(Root).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("hello-world_2")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 63
    public void Valid_names_are_accepted(string name) => CodeStore.ValidateName(name);

    [Fact]
    public void Versions_below_one_are_refused()
    {
        var store = new CodeStore(_dir);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Commit(Stage(store, "x"), "hello", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Remove("hello", -1));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
