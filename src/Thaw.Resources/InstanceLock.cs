namespace Thaw.Resources;

/// <summary>
/// An exclusive lock on an instance's state dir (flock, via FileShare.None), held while its pools
/// live. The kernel drops it when the holder dies, so a crash never leaves the dir locked.
/// </summary>
public sealed class InstanceLock : IDisposable
{
    private readonly FileStream _file;

    private InstanceLock(FileStream file) => _file = file;

    public const string FileName = "instance.lock";

    /// <summary>Takes the lock or throws <see cref="InstanceLockedException"/> naming the holder.</summary>
    public static InstanceLock Acquire(ThawNaming naming)
    {
        string path = Path.Combine(naming.StateDir, FileName);
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            using (var writer = new StreamWriter(file, leaveOpen: true))
                writer.Write($"{Environment.ProcessId} {naming.Name}\n");
            file.Flush();
            return new InstanceLock(file);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            string holder = "";
            try
            {
                // Shared read without a lock of its own: the holder's flock would refuse a locking open.
                using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
                holder = reader.ReadToEnd().Trim();
            }
            catch (IOException) { }
            throw new InstanceLockedException(
                $"state dir {naming.StateDir} is in use by another Thaw instance{(holder.Length > 0 ? $" (pid and name: {holder})" : "")}; stop it or use another --state-dir");
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Another live instance holds the state dir.</summary>
public sealed class InstanceLockedException(string message) : InvalidOperationException(message);
