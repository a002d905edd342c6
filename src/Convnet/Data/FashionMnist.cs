using System.Security.Cryptography;

namespace Convnet.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research, 2017): 70,000 28×28 grayscale
/// pictures of clothing in 10 classes, in MNIST's IDX format, as Debian's package
/// <c>dataset-fashion-mnist</c> installs it (four gzipped IDX files in
/// <see cref="DebianDirectory"/>). The classes are named: Zalando's names with '/' as '_'
/// (so that they can be folder names), class index = the name's place in ordinal order.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's package puts the IDX files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";
    /// <summary>The Debian package that holds them.</summary>
    public const string DebianPackage = "dataset-fashion-mnist";

    /// <summary>The training images (60,000).</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte.gz";
    /// <summary>The training labels.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte.gz";
    /// <summary>The test images (10,000).</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte.gz";
    /// <summary>The test labels.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte.gz";

    /// <summary>
    /// The names of Zalando's labels 0-9 (github.com/zalandoresearch/fashion-mnist), '/' written '_':
    /// label 0 is "T-shirt/top" there, "T-shirt_top" here.
    /// </summary>
    public static IReadOnlyList<string> ZalandoNames { get; } = Array.AsReadOnly(
        ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

    /// <summary>
    /// The class names in class-index order: <see cref="ZalandoNames"/> sorted ordinally, the
    /// order in which a CSV's text labels or an image folder's class folders are numbered
    /// (Ankle boot, Bag, Coat, Dress, Pullover, Sandal, Shirt, Sneaker, T-shirt_top, Trouser).
    /// </summary>
    public static IReadOnlyList<string> ClassNames { get; } = Array.AsReadOnly(ZalandoNames.Order(StringComparer.Ordinal).ToArray());

    /// <summary>Zalando's label → class index.</summary>
    private static readonly byte[] ZalandoToClass = [.. ZalandoNames.Select(name => (byte)ClassNames.ToList().IndexOf(name))];

    /// <summary>SHA-256 of the package's files (Debian's 0.0~git20200523.55506a9-1), lowercase hex.</summary>
    private static readonly Dictionary<string, string> Sha256 = new()
    {
        [TrainImagesFile] = "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        [TrainLabelsFile] = "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        [TestImagesFile] = "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        [TestLabelsFile] = "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    };

    /// <summary>
    /// Reads the training and test sets from <paramref name="sourceDirectory"/> after checking the
    /// files' SHA-256, labelled by <see cref="ClassNames"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message says which package to install.</exception>
    /// <exception cref="DataFormatException">A file has another hash, or is not a valid IDX file.</exception>
    public static (Dataset Train, Dataset Test) Read(string sourceDirectory = DebianDirectory) => Read(sourceDirectory, verify: true);

    /// <summary><see cref="Read(string)"/>, with the hash check optional for tests on made-up files.</summary>
    internal static (Dataset Train, Dataset Test) Read(string sourceDirectory, bool verify)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        foreach (string name in Sha256.Keys)
        {
            string path = Path.Combine(sourceDirectory, name);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"Fashion-MNIST is not installed: {path} not found (apt-get install {DebianPackage})", path);
            }
            if (verify)
            {
                string actual = HashFile(path);
                if (actual != Sha256[name])
                {
                    throw new DataFormatException(path, $"SHA-256 mismatch: expected {Sha256[name]} ({DebianPackage}), got {actual}");
                }
            }
        }
        var train = Named(Idx.ReadMnist(Path.Combine(sourceDirectory, TrainImagesFile), Path.Combine(sourceDirectory, TrainLabelsFile)));
        var test = Named(Idx.ReadMnist(Path.Combine(sourceDirectory, TestImagesFile), Path.Combine(sourceDirectory, TestLabelsFile)));
        return (train, test);
    }

    /// <summary>
    /// Makes sure <c>train.csv</c> (60,000 rows), <c>test.csv</c> (10,000) and <c>test_labels.csv</c>
    /// exist in <paramref name="dataDir"/>, in the Kaggle layout with the class names as labels.
    /// Does nothing when all three exist.
    /// </summary>
    public static MnistFiles WriteCsv(string dataDir, TextWriter log, string sourceDirectory = DebianDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        ArgumentNullException.ThrowIfNull(log);
        var files = new MnistFiles(dataDir);
        if (files.CsvFilesExist)
        {
            log.WriteLine($"Fashion-MNIST is already in {dataDir} (train.csv, test.csv, test_labels.csv); nothing to do.");
            return files;
        }
        var (train, test) = Read(sourceDirectory);
        log.WriteLine($"Read {sourceDirectory} (SHA-256 verified).");
        Directory.CreateDirectory(dataDir);
        WriteCsv(files, train, test, log);
        return files;
    }

    /// <summary>Writes the three CSV files of <paramref name="files"/>.</summary>
    internal static void WriteCsv(MnistFiles files, Dataset train, Dataset test, TextWriter log)
    {
        KaggleCsv.WriteLabelled(files.TrainCsv, train);
        log.WriteLine($"Wrote {files.TrainCsv} ({train.Count:N0} labelled rows).");
        KaggleCsv.WriteUnlabelled(files.TestCsv, test);
        log.WriteLine($"Wrote {files.TestCsv} ({test.Count:N0} rows).");
        KaggleCsv.WriteLabels(files.TestLabelsCsv, test.Labels!, test.ClassNames);
        log.WriteLine($"Wrote {files.TestLabelsCsv} ({test.Count:N0} labels).");
    }

    /// <summary>Zalando's labels 0-9 renumbered to the ordinal order of their names.</summary>
    private static Dataset Named(Dataset zalando)
    {
        var labels = new byte[zalando.Count];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = ZalandoToClass[zalando.Labels![i]];
        }
        return new Dataset(zalando.Pixels, labels, zalando.SampleShape, ClassNames);
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
