from snekner.cli import main

main()
