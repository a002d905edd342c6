using System.CommandLine;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class MergeCommand
{
    // Written afresh for each member by ModelFile.SaveEnsemble, or describing the whole file.
    private static readonly HashSet<string> FileKeys = ["format", "format_version", "architecture", "input_shape", "classes", "parameters", "tensors_sha256", "ensemble"];

    public static Command Create()
    {
        var models = new Argument<string[]>("MODELS")
        {
            Description = "Two or more model files (single models or ensembles) of the same input shape and classes (the same class names, when they have them).",
            Arity = new ArgumentArity(2, 1000),
        };
        var outPath = new Option<string>("--out", "-o")
        {
            Description = "The ensemble file to write (written to a temporary file, then renamed).",
            DefaultValueFactory = _ => "ensemble.safetensors",
        };
        var command = new Command("merge", "Join trained models into one ensemble file: every member of every input, in the order given, each with its own training metadata (e.g. models trained separately with --seed 1, 2, 3, ...).")
        {
            models, outPath,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string[] paths = parse.GetValue(models)!;
            string outFile = parse.GetValue(outPath)!;
            foreach (var path in paths)
            {
                Cli.CheckExists(path, "model");
            }
            Cli.CheckWritable(outFile, "ensemble");
            var members = new List<Sequential>();
            var memberMetadata = new List<IReadOnlyDictionary<string, string>>();
            try
            {
                foreach (var path in paths)
                {
                    var (net, metadata) = ModelFile.LoadClassifier(path, threads: 1);
                    if (members.Count > 0 && (net.InputShape != members[0].InputShape || net.Classes != members[0].Classes))
                    {
                        net.Dispose();
                        throw new UserError($"{path}: the model takes {net.InputShape} and scores {net.Classes} classes, but {paths[0]} takes {members[0].InputShape} and scores {members[0].Classes}");
                    }
                    if (members.Count > 0 && !SameNames(net.ClassNames, members[0].ClassNames))
                    {
                        net.Dispose();
                        throw new UserError($"{path}: the model's classes are {Describe(net.ClassNames)}, but {paths[0]}'s are {Describe(members[0].ClassNames)}");
                    }
                    if (net is Ensemble ensemble)
                    {
                        for (int k = 0; k < ensemble.Members.Count; k++)
                        {
                            members.Add(ensemble.Members[k]);
                            memberMetadata.Add(Own(ModelFile.MemberMetadata(metadata, k), path));
                        }
                    }
                    else
                    {
                        members.Add((Sequential)net);
                        memberMetadata.Add(Own(metadata, path));
                    }
                }
                var top = new Dictionary<string, string> { ["merged_from"] = string.Join(", ", paths.Select(Path.GetFileName)) };
                ModelFile.SaveEnsemble(members, outFile, top, memberMetadata);
            }
            catch (ArgumentException e)
            {
                throw new UserError($"cannot merge: {e.Message}");
            }
            finally
            {
                foreach (var member in members)
                {
                    member.Dispose();
                }
            }
            output.WriteLine($"Wrote an ensemble of {members.Count} models ({members.Sum(m => m.ParameterCount):N0} parameters) to {outFile}.");
            return 0;
        }));
        return command;
    }

    private static bool SameNames(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null || b is null ? a is null && b is null : a.SequenceEqual(b, StringComparer.Ordinal);

    private static string Describe(IReadOnlyList<string>? names) =>
        names is null ? "numbered, not named" : $"named {string.Join(", ", names.Take(10))}{(names.Count > 10 ? $", ... ({names.Count})" : "")}";

    /// <summary>A member's training metadata, without the keys that describe a file, with the file it came from.</summary>
    private static Dictionary<string, string> Own(IReadOnlyDictionary<string, string> metadata, string path)
    {
        var own = metadata.Where(e => !FileKeys.Contains(e.Key)).ToDictionary(e => e.Key, e => e.Value);
        own["source_file"] = Path.GetFileName(path);
        return own;
    }
}
