namespace Convnet.Data;

/// <summary>Where <see cref="Mnist.Fetch"/> puts MNIST: three Kaggle-format CSV files and the four IDX files.</summary>
public sealed record MnistFiles(string DataDirectory)
{
    /// <summary>60,000 labelled rows, <c>label,pixel0..pixel783</c>.</summary>
    public string TrainCsv => Path.Combine(DataDirectory, "train.csv");

    /// <summary>10,000 rows, <c>pixel0..pixel783</c>.</summary>
    public string TestCsv => Path.Combine(DataDirectory, "test.csv");

    /// <summary>The labels of <see cref="TestCsv"/>, <c>ImageId,Label</c>.</summary>
    public string TestLabelsCsv => Path.Combine(DataDirectory, "test_labels.csv");

    /// <summary>The folder of the four IDX files.</summary>
    public string IdxDirectory => Path.Combine(DataDirectory, "mnist");

    /// <summary>The training images' IDX file.</summary>
    public string TrainImages => Path.Combine(IdxDirectory, Mnist.TrainImagesFile);
    /// <summary>The training labels' IDX file.</summary>
    public string TrainLabels => Path.Combine(IdxDirectory, Mnist.TrainLabelsFile);
    /// <summary>The test images' IDX file.</summary>
    public string TestImages => Path.Combine(IdxDirectory, Mnist.TestImagesFile);
    /// <summary>The test labels' IDX file.</summary>
    public string TestLabels => Path.Combine(IdxDirectory, Mnist.TestLabelsFile);

    /// <summary>Whether all three CSV files are there.</summary>
    public bool CsvFilesExist => File.Exists(TrainCsv) && File.Exists(TestCsv) && File.Exists(TestLabelsCsv);
}
