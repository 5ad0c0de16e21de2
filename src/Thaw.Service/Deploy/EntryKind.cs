namespace Thaw.Service.Deploy;

/// <summary>
/// The only kinds of entry a function's directory may hold; each format's reader maps its own types
/// onto these and refuses the rest (hard links, devices, fifos) itself.
/// </summary>
internal enum EntryKind
{
    File,
    Directory,
    Symlink,
}
