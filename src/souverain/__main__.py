from souverain.cli import main

main()
