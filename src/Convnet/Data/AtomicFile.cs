namespace Convnet.Data;

/// <summary>
/// A file written under a temporary name next to its destination and renamed over it on
/// <see cref="Commit"/>, so that a crash leaves either the old file or the new one, never half
/// of one. Disposing without committing deletes the temporary file.
/// </summary>
internal sealed class AtomicFile : IDisposable
{
    private readonly FileStream _stream;
    private bool _done;

    private AtomicFile(string path, string temporaryPath, FileStream stream)
    {
        Path = path;
        TemporaryPath = temporaryPath;
        _stream = stream;
    }

    public string Path { get; }
    public string TemporaryPath { get; }

    /// <summary>Unbuffered: callers write large blocks.</summary>
    public Stream Stream => _stream;

    public static AtomicFile Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        string temporaryPath = $"{path}.tmp-{Random.Shared.Next():x8}";
        var stream = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1);
        return new AtomicFile(path, temporaryPath, stream);
    }

    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(TemporaryPath, Path, overwrite: true);
        _done = true;
    }

    public void Dispose()
    {
        if (_done)
        {
            return;
        }
        _done = true;
        _stream.Dispose();
        try
        {
            File.Delete(TemporaryPath);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
    }
}
