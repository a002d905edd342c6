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

    public string IdxDirectory => Path.Combine(DataDirectory, "mnist");

    public string TrainImages => Path.Combine(IdxDirectory, Mnist.TrainImagesFile);
    public string TrainLabels => Path.Combine(IdxDirectory, Mnist.TrainLabelsFile);
    public string TestImages => Path.Combine(IdxDirectory, Mnist.TestImagesFile);
    public string TestLabels => Path.Combine(IdxDirectory, Mnist.TestLabelsFile);

    public bool CsvFilesExist => File.Exists(TrainCsv) && File.Exists(TestCsv) && File.Exists(TestLabelsCsv);
}
