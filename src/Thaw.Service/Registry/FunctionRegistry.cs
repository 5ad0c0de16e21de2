using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Thaw.Service.Registry;

/// <summary>
/// The deployed functions, kept in SQLite at <c>&lt;stateDir&gt;/registry.db</c>: for each name its
/// current <see cref="FunctionRecord"/>, and the last version number ever handed out.
/// </summary>
/// <remarks>
/// SQLite rather than a file per function: a deploy updates two rows (the record and the version
/// counter) and they change together or not at all; the write-ahead log keeps the database
/// consistent across a crash or power cut without thawd writing temp files and renaming them; and
/// the whole registry is one file to back up, inspect with <c>sqlite3</c>, or move aside.
/// The code itself lives in the <see cref="CodeStore"/>; the registry only names its directories.
/// </remarks>
public sealed class FunctionRegistry : IDisposable
{
    /// <summary>The schema this build writes, kept in <c>PRAGMA user_version</c>.</summary>
    public const int SchemaVersion = 1;

    private const int SqliteCorrupt = 11;
    private const int SqliteNotADb = 26;

    private const string Columns = "name, version, code_dir, sha256, deployed_at, installed_json, zygote, modules_json";

    // A SqliteConnection is not safe to share between threads, and SQLite runs one write at a time
    // per database anyway, so a pool of connections would buy nothing for deploys; the registry's
    // statements take microseconds, so one connection behind a lock is also fast enough for lookups.
    private readonly Lock _lock = new();
    private readonly SqliteConnection _connection;
    private bool _disposed;

    // Microsoft.Data.Sqlite finds the bundled native library by reflection; calling the bundle
    // directly keeps that working if the service is ever trimmed, and costs nothing otherwise.
    static FunctionRegistry() => SQLitePCL.Batteries_V2.Init();

    private FunctionRegistry(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>Opens the registry at <paramref name="path"/>, creating the file and its schema if there is none.</summary>
    /// <param name="path">The database file, normally <c>&lt;stateDir&gt;/registry.db</c>.</param>
    /// <param name="busyTimeout">How long a statement waits for another process's lock (e.g. a <c>sqlite3</c> shell); 5 s if null.</param>
    /// <exception cref="InvalidDataException">The file is not a SQLite database, or has a newer schema than this build knows.</exception>
    public static FunctionRegistry Open(string path, TimeSpan? busyTimeout = null)
    {
        path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // No pool: the registry holds its one connection for its lifetime, and a pooled
            // connection would keep the file open after Dispose. (ClearAllPools would close it too,
            // but it is process-wide and would reach other components' pools.)
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout = {(long)(busyTimeout ?? TimeSpan.FromSeconds(5)).TotalMilliseconds}");
            // The first statement that reads the file: a file that is not SQLite fails here, before
            // anything is written, and is left as it was for someone to look at.
            long schema;
            try
            {
                schema = Scalar<long>(connection, "PRAGMA user_version");
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SqliteNotADb or SqliteCorrupt)
            {
                throw new InvalidDataException(
                    $"{path} is not a SQLite database or is damaged ({e.Message}); thawd will not overwrite it. " +
                    "Move it aside to start with an empty registry.", e);
            }
            if (schema > SchemaVersion)
            {
                throw new InvalidDataException(
                    $"{path} has registry schema {schema}, newer than this thawd understands ({SchemaVersion}); " +
                    "it was written by a newer thawd. Run that version, or move the file aside.");
            }
            Execute(connection, "PRAGMA journal_mode = WAL");
            // NORMAL under WAL: a power cut may lose the last commits but never corrupts the database,
            // and commits skip an fsync each; a deploy lost that way is swept and can be redone.
            Execute(connection, "PRAGMA synchronous = NORMAL");
            if (schema == 0)
                CreateSchema(connection);
            return new FunctionRegistry(connection, path);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The version a deploy of <paramref name="name"/> gets: one more than any it ever had (put, then
    /// removed or replaced). Nothing is reserved: a refused deploy leaves the number for the next one,
    /// and <see cref="Put"/> moves the counter. Callers run one deploy of a name at a time (thawd's
    /// <c>FunctionChanges</c>), so two deploys never get the same number.
    /// </summary>
    public int NextVersion(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command("SELECT coalesce((SELECT last_version FROM versions WHERE name = $name), 0) + 1");
            command.Parameters.AddWithValue("$name", name);
            return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Makes <paramref name="record"/> the current version of its function, replacing any before it.</summary>
    public void Put(FunctionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.Name);
        ArgumentOutOfRangeException.ThrowIfLessThan(record.Version, 1);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _connection.BeginTransaction();
            using (var put = Command($"INSERT OR REPLACE INTO functions ({Columns}) VALUES ($name, $version, $code_dir, $sha256, $deployed_at, $installed, $zygote, $modules)", transaction))
            {
                put.Parameters.AddWithValue("$name", record.Name);
                put.Parameters.AddWithValue("$version", record.Version);
                put.Parameters.AddWithValue("$code_dir", record.CodeDir);
                put.Parameters.AddWithValue("$sha256", record.Sha256);
                put.Parameters.AddWithValue("$deployed_at", record.DeployedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
                put.Parameters.AddWithValue("$installed", JsonSerializer.Serialize([.. record.Installed], RegistryJson.Default.StringArray));
                put.Parameters.AddWithValue("$zygote", record.Zygote);
                put.Parameters.AddWithValue("$modules", JsonSerializer.Serialize([.. record.Modules], RegistryJson.Default.StringArray));
                put.ExecuteNonQuery();
            }
            // The counter moves past every version put (a deploy's, an import's, a restore's), so that
            // number is not handed out again, even after the function is removed.
            using (var seen = Command(
                "INSERT INTO versions (name, last_version) VALUES ($name, $version) " +
                "ON CONFLICT (name) DO UPDATE SET last_version = max(last_version, excluded.last_version)", transaction))
            {
                seen.Parameters.AddWithValue("$name", record.Name);
                seen.Parameters.AddWithValue("$version", record.Version);
                seen.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    /// <summary>The current version of <paramref name="name"/>, or null if it is not deployed.</summary>
    public FunctionRecord? Get(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command($"SELECT {Columns} FROM functions WHERE name = $name");
            command.Parameters.AddWithValue("$name", name);
            using var reader = command.ExecuteReader();
            return reader.Read() ? Read(reader) : null;
        }
    }

    /// <summary>Every deployed function's current version, ordered by name.</summary>
    public IReadOnlyList<FunctionRecord> List()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command($"SELECT {Columns} FROM functions ORDER BY name");
            using var reader = command.ExecuteReader();
            var records = new List<FunctionRecord>();
            while (reader.Read())
                records.Add(Read(reader));
            return records;
        }
    }

    /// <summary>Forgets <paramref name="name"/> (its version counter stays); false if it was not deployed.</summary>
    public bool Remove(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command("DELETE FROM functions WHERE name = $name");
            command.Parameters.AddWithValue("$name", name);
            return command.ExecuteNonQuery() > 0;
        }
    }

    /// <summary>Closes the database; with no pool behind it, the file is closed when this returns.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _connection.Dispose();
        }
    }

    private static void CreateSchema(SqliteConnection connection)
    {
        // BEGIN IMMEDIATE (Microsoft.Data.Sqlite's default): a second thawd racing to create the
        // schema waits, then finds the tables there; IF NOT EXISTS makes its attempt a no-op.
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            CREATE TABLE IF NOT EXISTS functions (
                name TEXT PRIMARY KEY NOT NULL,
                version INTEGER NOT NULL,
                code_dir TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                deployed_at TEXT NOT NULL,
                installed_json TEXT NOT NULL,
                zygote TEXT NOT NULL,
                modules_json TEXT NOT NULL
            ) STRICT;
            CREATE TABLE IF NOT EXISTS versions (
                name TEXT PRIMARY KEY NOT NULL,
                last_version INTEGER NOT NULL
            ) STRICT;
            PRAGMA user_version = {SchemaVersion};
            """;
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    private static FunctionRecord Read(SqliteDataReader reader) => new(
        Name: reader.GetString(0),
        Version: reader.GetInt32(1),
        CodeDir: reader.GetString(2),
        Sha256: reader.GetString(3),
        DeployedAt: DateTimeOffset.ParseExact(reader.GetString(4), "O", CultureInfo.InvariantCulture),
        Installed: JsonSerializer.Deserialize(reader.GetString(5), RegistryJson.Default.StringArray) ?? [],
        Zygote: reader.GetString(6),
        Modules: JsonSerializer.Deserialize(reader.GetString(7), RegistryJson.Default.StringArray) ?? []);

    private SqliteCommand Command(string sql, SqliteTransaction? transaction = null)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static T Scalar<T>(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }
}
